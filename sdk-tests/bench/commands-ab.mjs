// Benchmark (not a test): commands.run('true') through the SDK against several envd jars side by side, in
// alternating rounds in one run, so a shared machine's load hits every jar alike. Prints p10/p50/p90/p99 per jar and
// each p50 as a ratio of the first jar's.
//
// Usage: node bench/commands-ab.mjs [--rounds 8] [--per-round 40] [--sdk 2.51.0] label=path/to/envd.jar ...
//   e.g. node bench/commands-ab.mjs main=/tmp/envd-main.jar branch=../envd/target/envd.jar
import { spawn } from 'node:child_process'
import os from 'node:os'
import { sdks, freePort, javaBinary, ensureTemplateUser } from '../test/helpers/envd.mjs'

const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : dflt
}
const rounds = Number(opt('rounds', 8))
const perRound = Number(opt('per-round', 40))
const version = opt('sdk', '2.51.0')
const jars = argv.filter((a, i) => a.includes('=') && !argv[i - 1]?.startsWith('--'))
if (jars.length === 0) throw new Error('give at least one label=path/to/envd.jar')

ensureTemplateUser()
const { Sandbox } = await sdks[version]()
const targets = []
try {
  for (const spec of jars) {
    const label = spec.slice(0, spec.indexOf('='))
    const jar = spec.slice(spec.indexOf('=') + 1)
    const port = await freePort()
    const child = spawn(javaBinary(), ['-jar', jar, '--port', String(port), '--default-user', 'user'], { stdio: 'ignore' })
    targets.push({ label, child, times: [] })
    const url = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 30_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${jar} exited with ${child.exitCode}`)
      try {
        if ((await fetch(`${url}/health`)).status === 204) break
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`${jar} did not become healthy in 30 s`)
      await new Promise((r) => setTimeout(r, 100))
    }
    process.env.E2B_DEBUG = 'true'
    process.env.E2B_SANDBOX_URL = url
    targets.at(-1).sbx = await Sandbox.create()
    for (let i = 0; i < 200; i++) await targets.at(-1).sbx.commands.run('true') // warm-up
  }
  const loadBefore = os.loadavg()[0]
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) {
      for (let i = 0; i < perRound; i++) {
        const start = process.hrtime.bigint()
        await t.sbx.commands.run('true')
        t.times.push(Number(process.hrtime.bigint() - start) / 1e6)
      }
    }
  }
  const pct = (s, p) => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  const base = [...targets[0].times].sort((a, b) => a - b)
  console.log(`| jar (e2b ${version}, ${rounds} rounds x ${perRound}) | p10 ms | p50 ms | p90 ms | p99 ms | p50 / ${targets[0].label} |`)
  for (const t of targets) {
    const s = [...t.times].sort((a, b) => a - b)
    const cells = [0.1, 0.5, 0.9, 0.99].map((p) => pct(s, p).toFixed(2))
    console.log(`| ${t.label} | ${cells.join(' | ')} | ${(pct(s, 0.5) / pct(base, 0.5)).toFixed(2)} |`)
  }
  console.log(`load average (1 min): ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after`)
} finally {
  for (const t of targets) t.child.kill('SIGKILL')
}
process.exit(0)
