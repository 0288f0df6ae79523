import { Sandbox } from 'e2b-2.51'
import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
const dataDir = '/var/tmp/sandboxd-e2e'
const sbx = await Sandbox.create({ timeoutMs: 120_000 })
let slot
for (const d of readdirSync(`${dataDir}/sandboxes`)) { try { const r = JSON.parse(readFileSync(`${dataDir}/sandboxes/${d}/sandbox.json`)); if (r.sandboxId === sbx.sandboxId) slot = r.slot } catch {} }
const ip = `10.11.${(slot * 4 + 2) >> 8}.${(slot * 4 + 2) & 255}`
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
const u = new URL(process.env.E2B_SANDBOX_URL)
function get(host, port, headers) {
  return new Promise((res, rej) => { const r = http.request({ host, port, path: '/health', agent, headers }, (resp) => { resp.resume(); resp.on('end', res) }); r.on('error', rej); r.end() })
}
async function t(fn, n = 300) { for (let i = 0; i < 50; i++) await fn(); const ts = []; for (let i = 0; i < n; i++) { const a = process.hrtime.bigint(); await fn(); ts.push(Number(process.hrtime.bigint() - a) / 1e6) } ts.sort((a, b) => a - b); return `p50 ${ts[n >> 1].toFixed(3)} p90 ${ts[Math.floor(n * .9)].toFixed(3)}` }
for (let k = 0; k < 3; k++) {
  console.log('direct', await t(() => get(ip, 49983, {})))
  console.log('proxy ', await t(() => get(u.hostname, u.port, { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49983' })))
}
await sbx.kill()
