import { Sandbox } from 'e2b-2.51'
const K = 30, S = Number(process.env.S ?? 4)
const acc = Array(K).fill(0)
const inits = []
for (let s = 0; s < S; s++) {
  const a = performance.now()
  const sbx = await Sandbox.create({ timeoutMs: 120_000 })
  inits.push(performance.now() - a)
  for (let i = 0; i < K; i++) { const t = performance.now(); await sbx.commands.run('true'); acc[i] += (performance.now() - t) / S }
  await sbx.kill()
  await new Promise((r) => setTimeout(r, 3000))
}
console.log('create', inits.map((x) => x.toFixed(0)).join(' '))
console.log(acc.map((x) => x.toFixed(0)).join(' '))
