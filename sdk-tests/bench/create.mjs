// Benchmark runner (not a test) against a running `sandboxd serve`: source its sandboxd.env first.
//   set -a; . <data-dir>/sandboxd.env; set +a; cd sdk-tests; DATA_DIR=<data-dir> node bench/create.mjs [mode] [options]
// Modes (default: seq):
//   seq    create -> first commands.run('true'), one at a time, PAUSE_MS between samples so the pool can refill
//          (run the daemon with --warm-pool 0 and PAUSE_MS=0 for the empty-pool numbers). N samples.
//   burst  TOTAL creates (each: create, then its first commands.run('true')) by CONCURRENCY workers at once;
//          prints creates/s overall and after the pool ran dry, with p50/p99 per create. Sandboxes stay up until
//          the end (kills are not timed).
//   rss    IDLE sandboxes created and left idle SETTLE_MS, then memory per sandbox from its cgroup (usage, rss,
//          cache) and the PSS of its processes (/proc/<pid>/smaps_rollup). Needs root and DATA_DIR.
// The pool the daemon had when the run started is counted from DATA_DIR (jail directories nobody claimed yet),
// so the table says what it measured from.
import { Sandbox } from 'e2b-2.51'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'

const mode = process.argv[2] ?? 'seq'
const env = (k, d) => Number(process.env[k] ?? d)
const dataDir = process.env.DATA_DIR
const cgroupParent = process.env.CGROUP_PARENT ?? 'sandboxd'
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const q = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
const ms = (x) => x.toFixed(0)

function jails() {
  if (!dataDir) return null
  const dir = `${dataDir}/sandboxes`
  return readdirSync(dir).map((id) => {
    let rec = null
    try { rec = JSON.parse(readFileSync(`${dir}/${id}/sandbox.json`, 'utf8')) } catch {}
    return { id, sandboxId: rec?.sandboxId ?? null }
  })
}

function poolLabel() {
  const j = jails()
  return j === null ? 'pool: unknown (set DATA_DIR)' : `pool at start: ${j.filter((x) => !x.sandboxId).length} started or starting jails`
}

function row(what, n, sorted) {
  return `| ${what} | ${n} | ${ms(q(sorted, 0.5))} | ${ms(q(sorted, 0.99))} | ${ms(sorted[0])} | ${ms(sorted.at(-1))} |`
}

async function createAndRun() {
  const t0 = performance.now()
  const sbx = await Sandbox.create({ timeoutMs: 300_000 })
  const t1 = performance.now()
  const r = await sbx.commands.run('true')
  const t2 = performance.now()
  if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`)
  return { sbx, create: t1 - t0, total: t2 - t0, end: t2 }
}

async function seq() {
  const n = env('N', 20)
  const pauseMs = env('PAUSE_MS', 4000)
  const label = poolLabel()
  const creates = []
  const totals = []
  for (let i = 0; i < n; i++) {
    const s = await createAndRun()
    creates.push(s.create)
    totals.push(s.total)
    await s.sbx.kill()
    if (pauseMs) await sleep(pauseMs)
  }
  creates.sort((a, b) => a - b)
  totals.sort((a, b) => a - b)
  console.log(`sequential, ${label}, ${pauseMs} ms between samples, load ${os.loadavg()[0].toFixed(2)}`)
  console.log('| measure | n | p50 ms | p99 ms | min ms | max ms |')
  console.log('|---|---|---|---|---|---|')
  console.log(row('Sandbox.create', n, creates))
  console.log(row("create -> first commands.run('true')", n, totals))
}

async function burst() {
  const total = env('TOTAL', 40)
  const concurrency = env('CONCURRENCY', 10)
  const label = poolLabel()
  const pooled = jails()?.filter((x) => !x.sandboxId).length ?? 0
  const done = []
  const failures = []
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      next++
      try {
        done.push(await createAndRun())
      } catch (e) {
        failures.push(e.message)
      }
    }
  }))
  const wall = performance.now() - t0
  const creates = done.map((d) => d.create).sort((a, b) => a - b)
  const totals = done.map((d) => d.total).sort((a, b) => a - b)
  const ends = done.map((d) => d.end - t0).sort((a, b) => a - b)
  console.log(`burst: ${total} creates, concurrency ${concurrency}, ${label}, load ${os.loadavg()[0].toFixed(2)}`)
  console.log('| measure | n | p50 ms | p99 ms | min ms | max ms |')
  console.log('|---|---|---|---|---|---|')
  if (done.length) {
    console.log(row('Sandbox.create', done.length, creates))
    console.log(row("create -> first commands.run('true')", done.length, totals))
  }
  console.log(`creates/s (create + first run done), all ${done.length}: ${(done.length / (wall / 1000)).toFixed(1)} in ${(wall / 1000).toFixed(2)} s`)
  if (pooled > 0 && pooled < done.length) {
    const first = ends.slice(0, pooled)
    const rest = ends.slice(pooled)
    console.log(`creates/s, the first ${pooled} (the pool): ${(pooled / (first.at(-1) / 1000)).toFixed(1)}; `
      + `the other ${rest.length} (pool drained, from refills): ${(rest.length / ((rest.at(-1) - first.at(-1)) / 1000)).toFixed(2)}`)
  }
  if (failures.length) console.log(`FAILED ${failures.length}: ${[...new Set(failures)].join('; ')}`)
  await Promise.all(done.map((d) => d.sbx.kill()))
  if (failures.length) process.exitCode = 1
}

function cgroupFile(controller, jail, file) {
  const p = `/sys/fs/cgroup/${controller}/${cgroupParent}/${jail}/${file}`
  return existsSync(p) ? readFileSync(p, 'utf8') : null
}

function memoryOf(jail) {
  const stat = Object.fromEntries((cgroupFile('memory', jail, 'memory.stat') ?? '').trim().split('\n')
    .map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]))
  const usage = Number(cgroupFile('memory', jail, 'memory.usage_in_bytes') ?? NaN)
  const pids = (cgroupFile('memory', jail, 'cgroup.procs') ?? '').trim().split('\n').filter(Boolean)
  let pss = 0
  for (const pid of pids) {
    try {
      const m = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m)
      if (m) pss += Number(m[1]) * 1024
    } catch {}
  }
  return { usage, rss: stat.total_rss ?? stat.rss, cache: stat.total_cache ?? stat.cache, pss, procs: pids.length }
}

async function rss() {
  if (!dataDir) throw new Error('rss needs DATA_DIR (the daemon data dir) to find the sandboxes\' jails')
  const n = env('IDLE', 10)
  const settle = env('SETTLE_MS', 10_000)
  const sandboxes = []
  for (let i = 0; i < n; i++) {
    const sbx = await Sandbox.create({ timeoutMs: 300_000 })
    await sbx.commands.run('true')
    sandboxes.push(sbx)
  }
  await sleep(settle)
  const byId = new Map(jails().filter((j) => j.sandboxId).map((j) => [j.sandboxId, j.id]))
  const rows = sandboxes.map((s) => memoryOf(byId.get(s.sandboxId)))
  const MiB = (b) => (b / 1048576).toFixed(1)
  const stat = (k) => {
    const v = rows.map((r) => r[k]).sort((a, b) => a - b)
    return `${MiB(v.reduce((a, b) => a + b, 0) / v.length)} | ${MiB(v[0])} | ${MiB(v.at(-1))}`
  }
  console.log(`rss: ${n} idle sandboxes (each ran one command), measured ${settle} ms later, load ${os.loadavg()[0].toFixed(2)}`)
  console.log('| per idle sandbox | mean MiB | min MiB | max MiB |')
  console.log('|---|---|---|---|')
  console.log(`| cgroup memory.usage_in_bytes | ${stat('usage')} |`)
  console.log(`| cgroup rss (anonymous) | ${stat('rss')} |`)
  console.log(`| cgroup page cache | ${stat('cache')} |`)
  console.log(`| PSS of its processes (smaps_rollup) | ${stat('pss')} |`)
  await Promise.all(sandboxes.map((s) => s.kill()))
}

/**
 * One untimed API call first: a fresh node process pays for loading the SDK's HTTP client code and opening its
 * first connection, and the daemon for its first authentication of the key; neither is what a create costs.
 */
async function warmClient() {
  const t = performance.now()
  await Sandbox.list().nextItems()
  return performance.now() - t
}

const modes = { seq, burst, rss }
if (!modes[mode]) {
  console.error(`unknown mode '${mode}': seq, burst or rss`)
  process.exit(2)
}
console.log(`(untimed first API call: ${ms(await warmClient())} ms)`)
await modes[mode]()
