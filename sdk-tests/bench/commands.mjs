// Benchmark (not a test): commands.run('true') round trip through the unmodified SDK, and stream throughput of a
// command printing 100 MiB. Prints a table. Usage: node bench/commands.mjs [--sdk 2.51.0] [--iterations 500]
import { startEnvd, sdks, ensureTemplateUser } from '../test/helpers/envd.mjs'

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]])
  return acc
}, []))
const version = args.sdk ?? '2.51.0'
const iterations = Number(args.iterations ?? 500)
const warmup = Number(args.warmup ?? 100)
const user = args.user ?? 'user'

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

ensureTemplateUser()
const envd = await startEnvd({ args: ['--default-user', user] })
try {
  const { Sandbox } = await sdks[version]()
  const sbx = await Sandbox.create()

  for (let i = 0; i < warmup; i++) await sbx.commands.run('true')
  const times = []
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint()
    await sbx.commands.run('true')
    times.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  times.sort((a, b) => a - b)

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

  const rows = [
    ['metric', 'value'],
    [`commands.run('true') p50 (e2b ${version}, user ${user}, n=${iterations})`, `${pct(times, 50).toFixed(2)} ms`],
    [`commands.run('true') p99`, `${pct(times, 99).toFixed(2)} ms`],
    [`commands.run('true') min`, `${times[0].toFixed(2)} ms`],
    ['stdout stream of 100 MiB (median of 3)', `${runs[1].toFixed(0)} MiB/s`],
  ]
  for (const [a, b] of rows) console.log(`| ${a.padEnd(62)} | ${b.padStart(12)} |`)
} finally {
  await envd.stop()
}
