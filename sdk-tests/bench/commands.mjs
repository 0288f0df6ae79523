// Benchmark (not a test): commands.run('true') round trip through the unmodified SDK, and stream throughput of a
// command printing 100 MiB. Prints a table. Usage: node bench/commands.mjs [--sdk 2.51.0] [--iterations 500]
//
// Start modes side by side: node bench/commands.mjs --modes standalone,standalone-debian-root,user [--rounds 5] [--iterations 200]
// starts one envd per mode (standalone: no --default-user, so commands run as root, as `java -jar envd.jar --port P`
// does; user: --default-user user; daemon: the jail's flags, --warm-up-rounds 30 --warm-up-user user and an /init
// setting user as the default, without the jail) and runs commands.run('true') and raw Starts against each in
// alternating rounds, so a shared machine's load hits every mode alike; prints p50/p99 per mode.
import { spawnSync } from 'node:child_process'
import net from 'node:net'
import { startEnvd, sdks, ensureTemplateUser } from '../test/helpers/envd.mjs'
import { envelope } from '../test/helpers/connect.mjs'
import { flags } from './flags.mjs'

const args = flags()
const version = args.sdk ?? '2.51.0'
const iterations = Number(args.iterations ?? 500)
const warmup = Number(args.warmup ?? 100)
const user = args.user ?? 'user'

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

const ids = ensureTemplateUser()

/** Start over one keep-alive socket, no HTTP client library: what envd itself costs per command. */
async function rawStarter(port, body) {
  const sock = net.connect(port, '127.0.0.1')
  sock.setNoDelay(true)
  await new Promise((r) => sock.once('connect', r))
  const env = envelope(body)
  const head = Buffer.from(`POST /process.Process/Start HTTP/1.1\r\nHost: envd\r\nContent-Type: application/connect+json\r\nContent-Length: ${env.length}\r\n\r\n`)
  const req = Buffer.concat([head, env])
  return {
    run: () => new Promise((resolve) => {
      let buf = ''
      const onData = (d) => {
        buf += d.toString('latin1')
        if (buf.endsWith('0\r\n\r\n')) { sock.off('data', onData); resolve() }
      }
      sock.on('data', onData)
      sock.write(req)
    }),
    close: () => sock.destroy(),
  }
}

async function measure(fn, n, warm) {
  for (let i = 0; i < warm; i++) await fn()
  const ts = []
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint()
    await fn()
    ts.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  return ts.sort((a, b) => a - b)
}

if (args.modes) {
  await compareModes(args.modes.split(','), Number(args.rounds ?? 5))
  process.exit(0)
}

/** envd's arguments per start mode, and whether the mode gets the daemon's /init. */
function modeArgs(mode) {
  switch (mode) {
    case 'standalone': return { args: [] }
    // standalone as root on a machine whose root has Debian's stock dotfiles (what a fresh machine has): envd runs
    // in a mount namespace of its own where /root is a tmpfs holding base-files' dot.profile and dot.bashrc, so the
    // host's own root profile (here: pyenv init, ~0.55 s per login shell) is not what is measured
    case 'standalone-debian-root': return {
      args: [],
      prefix: ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o mode=700 tmpfs /root'
        + ' && cp /usr/share/base-files/dot.profile /root/.profile && cp /usr/share/base-files/dot.bashrc /root/.bashrc'
        + ' && exec "$@"', 'sh'],
      sameMounts: true,
    }
    case 'user': return { args: ['--default-user', 'user'] }
    case 'daemon': return { args: ['--warm-up-rounds', '30', '--warm-up-user', 'user'], init: { defaultUser: 'user' } }
    default: throw new Error(`unknown mode ${mode}: standalone, standalone-debian-root, user or daemon`)
  }
}

async function compareModes(modes, rounds) {
  const { Sandbox } = await sdks[version]()
  const targets = []
  try {
    for (const mode of modes) {
      const m = modeArgs(mode)
      const envd = await startEnvd({ args: m.args, prefix: m.prefix ?? [] })
      if (m.init) {
        const r = await fetch(`${envd.url}/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(m.init) })
        if (r.status !== 204) throw new Error(`/init answered ${r.status}`)
      }
      const sbx = await Sandbox.create()
      const who = (await sbx.commands.run('id -un')).stdout.trim()
      const rawTrue = await rawStarter(envd.port, { process: { cmd: '/bin/true' }, stdin: false })
      const rawBash = await rawStarter(envd.port, { process: { cmd: '/bin/bash', args: ['-l', '-c', 'true'] }, stdin: false })
      // floor: the same login shell spawned by node as that user, with envd's environment (the shell's own cost)
      const home = who === 'root' ? '/root' : '/home/user'
      const floorIds = who === 'root' ? { uid: 0, gid: 0 } : ids
      const floorEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, USER: who, LOGNAME: who }
      // (in envd's own mount namespace where it has one: nsenter adds about a millisecond)
      const floor = m.sameMounts
        ? () => spawnSync('nsenter', ['-t', String(envd.pid), '-m', '/bin/bash', '-l', '-c', 'true'], { cwd: '/', env: floorEnv })
        : () => spawnSync('/bin/bash', ['-l', '-c', 'true'], { ...floorIds, cwd: home, env: floorEnv })
      targets.push({ mode, who, envd, sbx, rawTrue, rawBash, floor, run: [], bin: [], rt: [], rb: [], fl: [] })
    }
    const per = Math.ceil(iterations / rounds)
    for (let r = 0; r <= rounds; r++) {
      const warm = r === 0 // the first round warms every mode up and is not counted
      for (const t of targets) {
        const n = warm ? Math.min(warmup, per) : per
        const put = (arr, xs) => { if (!warm) arr.push(...xs) }
        put(t.run, await measure(() => t.sbx.commands.run('true'), n, 0))
        put(t.bin, await measure(() => t.sbx.commands.run('/bin/true'), n, 0))
        put(t.rt, await measure(t.rawTrue.run, n, 0))
        put(t.rb, await measure(t.rawBash.run, n, 0))
        put(t.fl, await measure(t.floor, n, 0))
      }
    }
    const q = (xs, p) => pct([...xs].sort((a, b) => a - b), p).toFixed(2)
    console.log(`| mode (e2b ${version}, ${rounds} rounds, n=${targets[0].run.length}) | runs as | run('true') p50 / p99 ms | run('/bin/true') p50 / p99 ms | raw Start /bin/true p50 ms | raw Start bash -l -c true p50 ms | floor: bash -l -c true spawned by node p50 ms |`)
    for (const t of targets) {
      console.log(`| ${t.mode} | ${t.who} | ${q(t.run, 50)} / ${q(t.run, 99)} | ${q(t.bin, 50)} / ${q(t.bin, 99)} | ${q(t.rt, 50)} | ${q(t.rb, 50)} | ${q(t.fl, 50)} |`)
    }
    console.log(`load average (1 min) at the end: ${(await import('node:os')).loadavg()[0].toFixed(2)}`)
  } finally {
    for (const t of targets) {
      t.rawTrue.close()
      t.rawBash.close()
      await t.envd.stop()
    }
  }
}

const envd = await startEnvd({ args: ['--default-user', user] })
try {
  const { Sandbox } = await sdks[version]()
  const sbx = await Sandbox.create()

  const times = await measure(() => sbx.commands.run('true'), iterations, warmup)

  // 100 MiB through stdout: envd reads the pipe, base64s it into JSON envelopes, the SDK decodes them
  const size = 100 * 1024 * 1024
  const runs = []
  for (let i = 0; i < 3; i++) {
    let got = 0
    const t = process.hrtime.bigint()
    await sbx.commands.run(`head -c ${size} /dev/zero`, { onStdout: () => {}, onStderr: () => {} })
      .then((r) => { got = r.stdout.length })
    const s = Number(process.hrtime.bigint() - t) / 1e9
    if (got !== size) throw new Error(`expected ${size} bytes of stdout, got ${got}`)
    runs.push(size / 1024 / 1024 / s)
  }
  runs.sort((a, b) => a - b)

  // where the time goes: the shell itself, and envd without an HTTP client library in front
  const floor = await measure(() => spawnSync('/bin/bash', ['-l', '-c', 'true'],
    { uid: ids.uid, gid: ids.gid, cwd: '/home/user', env: { PATH: '/usr/bin:/bin', HOME: '/home/user', USER: user } }), iterations, warmup)
  const rawTrue = await rawStarter(envd.port, { process: { cmd: '/bin/true' }, stdin: false })
  const rawTrueTimes = await measure(rawTrue.run, iterations, warmup)
  rawTrue.close()
  const rawBash = await rawStarter(envd.port, { process: { cmd: '/bin/bash', args: ['-l', '-c', 'true'] }, stdin: false })
  const rawBashTimes = await measure(rawBash.run, iterations, warmup)
  rawBash.close()

  const rows = [
    ['metric', 'value'],
    [`floor: bash -l -c true spawned by node as ${user}, p50`, `${pct(floor, 50).toFixed(2)} ms`],
    ['envd Start /bin/true over a raw socket, p50', `${pct(rawTrueTimes, 50).toFixed(2)} ms`],
    ['envd Start bash -l -c true over a raw socket, p50', `${pct(rawBashTimes, 50).toFixed(2)} ms`],
    [`commands.run('true') p50 (e2b ${version}, user ${user}, n=${iterations})`, `${pct(times, 50).toFixed(2)} ms`],
    [`commands.run('true') p99`, `${pct(times, 99).toFixed(2)} ms`],
    [`commands.run('true') min`, `${times[0].toFixed(2)} ms`],
    ['stdout stream of 100 MiB (median of 3)', `${runs[1].toFixed(0)} MiB/s`],
  ]
  rows.push(['load average (1 min) at the end', (await import('node:os')).loadavg()[0].toFixed(2)])
  for (const [a, b] of rows) console.log(`| ${a.padEnd(62)} | ${b.padStart(12)} |`)
} finally {
  await envd.stop()
}
