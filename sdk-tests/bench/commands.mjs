// Benchmark (not a test): commands.run('true') round trip through the unmodified SDK, and stream throughput of a
// command printing 100 MiB. Prints a table. Usage: node bench/commands.mjs [--sdk 2.51.0] [--iterations 500]
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
