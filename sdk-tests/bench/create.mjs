// create -> first commands.run('true') through the SDK against a running `sandboxd serve` (source its sandboxd.env
// first). Sequential samples; between samples it waits PAUSE_MS so a warm pool can refill (PAUSE_MS=0 and
// --warm-pool 0 on the daemon measure cold starts). Prints p50/p99 in ms.
import { Sandbox } from 'e2b-2.51'

const n = Number(process.env.N ?? 20)
const pauseMs = Number(process.env.PAUSE_MS ?? 4000)
const samples = []
for (let i = 0; i < n; i++) {
  const t0 = performance.now()
  const sbx = await Sandbox.create({ timeoutMs: 60_000 })
  await sbx.commands.run('true')
  samples.push(performance.now() - t0)
  await sbx.kill()
  if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs))
}
samples.sort((a, b) => a - b)
const q = (p) => samples[Math.min(samples.length - 1, Math.ceil(p * samples.length) - 1)].toFixed(0)
console.log('| measure | n | p50 ms | p99 ms | min ms | max ms |')
console.log('|---|---|---|---|---|---|')
console.log(`| create -> first commands.run('true') (${process.env.LABEL ?? 'warm pool'}) | ${n} | ${q(0.5)} | ${q(0.99)} | ${samples[0].toFixed(0)} | ${samples.at(-1).toFixed(0)} |`)
