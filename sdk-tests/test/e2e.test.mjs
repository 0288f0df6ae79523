// End to end: `./sandboxd serve` on free ports, driven by the unmodified E2B SDKs (not debug mode) through the
// env file the daemon writes when ready. Needs root, runc and debootstrap; the base template is built once into
// a cached data dir (SANDBOXD_E2E_DATA_DIR, default /var/tmp/sandboxd-e2e), so only the first run takes minutes.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'

const repo = path.resolve(import.meta.dirname, '../..')
const dataDir = process.env.SANDBOXD_E2E_DATA_DIR ?? '/var/tmp/sandboxd-e2e'
const envFile = path.join(dataDir, 'sandboxd.env')
const VERSIONS = ['e2b-2.51', 'e2b-2.45']

function missing() {
  // `npm test` (run by ./mvnw verify from the envd module) must not start a daemon build inside a Maven build.
  if (process.env.SANDBOXD_E2E !== '1') return 'opt-in: run `npm run test:e2e` (sets SANDBOXD_E2E=1)'
  if (process.getuid?.() !== 0) return 'needs root (the jail runtime makes namespaces, mounts, cgroups)'
  for (const [tool, pkg] of [['runc', 'runc'], ['debootstrap', 'debootstrap'], ['nft', 'nftables'], ['ip', 'iproute2']]) {
    try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }) } catch { return `needs ${tool} (apt-get install -y ${pkg})` }
  }
  return null
}
const skip = missing()
if (skip) console.log(`SKIPPED e2e: ${skip}`)

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

let daemon
let output = ''
let env

async function startDaemon() {
  mkdirSync(dataDir, { recursive: true })
  rmSync(envFile, { force: true })
  const [api, proxy] = [await freePort(), await freePort()]
  daemon = spawn(path.join(repo, 'sandboxd'), ['serve', '--data-dir', dataDir, '--api-port', String(api),
    '--proxy-port', String(proxy), '--warm-pool', '1'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
  daemon.stdout.on('data', (d) => { output += d })
  daemon.stderr.on('data', (d) => { output += d })
  const deadline = Date.now() + 15 * 60_000 // the first run builds the base template
  while (!existsSync(envFile)) {
    if (daemon.exitCode !== null) throw new Error(`sandboxd serve exited ${daemon.exitCode}:\n${output}`)
    if (Date.now() > deadline) throw new Error(`sandboxd.env did not appear:\n${output}`)
    await sleep(250)
  }
  env = Object.fromEntries(readFileSync(envFile, 'utf8').trim().split('\n').map((l) => {
    const i = l.indexOf('=')
    return [l.slice(0, i), l.slice(i + 1)]
  }))
  for (const k of ['E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_DOMAIN', 'E2B_API_KEY', 'E2B_ACCESS_TOKEN']) {
    assert.ok(env[k], `${k} in sandboxd.env`)
    process.env[k] = env[k]
  }
  delete process.env.E2B_DEBUG
  assert.equal(env.E2B_API_URL, `http://127.0.0.1:${api}`)
  assert.equal(env.E2B_SANDBOX_URL, `http://127.0.0.1:${proxy}`)
  assert.match(env.E2B_API_KEY, /^e2b_[0-9a-f]+$/)
}

async function stopDaemon() {
  if (!daemon || daemon.exitCode !== null) return
  const exited = new Promise((r) => daemon.once('exit', (code, signal) => r({ code, signal })))
  daemon.kill('SIGTERM')
  const result = await Promise.race([exited, sleep(60_000).then(() => null)])
  if (!result) {
    daemon.kill('SIGKILL')
    throw new Error(`sandboxd did not stop within 60 s of SIGTERM:\n${output.slice(-4000)}`)
  }
}

describe('e2e: sandboxd serve + the E2B SDK', { skip: skip ?? false, timeout: 30 * 60_000 }, () => {
  before(startDaemon, { timeout: 20 * 60_000 })
  after(stopDaemon, { timeout: 90_000 })

  for (const version of VERSIONS) {
    describe(version, () => {
      let Sandbox
      before(async () => { ({ Sandbox } = await import(version)) })

      test('create with metadata and envs, list, getInfo, commands and files through the proxy, setTimeout, kill', async () => {
        const tag = `${version}-${Date.now()}`
        const sbx = await Sandbox.create({ metadata: { suite: 'e2e', tag }, envs: { GREETING: 'hello' }, timeoutMs: 120_000 })
        let killed = false
        try {
          assert.match(sbx.sandboxId, /^[a-z0-9]+$/)

          const hi = await sbx.commands.run('echo hi')
          assert.equal(hi.stdout, 'hi\n')
          assert.equal(hi.exitCode, 0)
          const envs = await sbx.commands.run('echo $GREETING; whoami; pwd')
          assert.equal(envs.stdout, 'hello\nuser\n/home/user\n')

          await sbx.files.write('/home/user/e2e.txt', `written by ${version}`)
          assert.equal(await sbx.files.read('/home/user/e2e.txt'), `written by ${version}`)

          const info = await sbx.getInfo()
          assert.equal(info.sandboxId, sbx.sandboxId)
          assert.equal(info.state, 'running')
          assert.deepEqual(info.metadata, { suite: 'e2e', tag })

          const listed = await Sandbox.list({ query: { metadata: { tag } } }).nextItems()
          assert.deepEqual(listed.map((s) => s.sandboxId), [sbx.sandboxId])

          const before = new Date(info.endAt).getTime()
          await sbx.setTimeout(600_000)
          const later = new Date((await sbx.getInfo()).endAt).getTime()
          assert.ok(later > before + 300_000, `setTimeout moved endAt from ${info.endAt} by ${later - before} ms`)

          assert.equal(await sbx.kill(), true)
          killed = true
          assert.equal(await Sandbox.kill(sbx.sandboxId), false, 'a second kill finds nothing')
          assert.equal(await sbx.isRunning(), false)
          await assert.rejects(Sandbox.getInfo(sbx.sandboxId), (e) => /not found/i.test(`${e.name} ${e.message}`))
        } finally {
          if (!killed) await sbx.kill().catch(() => {})
        }
      })

      test('a bad API key is refused with 401', async () => {
        await assert.rejects(Sandbox.create({ apiKey: `e2b_${'0'.repeat(40)}` }),
          (e) => e.name === 'AuthenticationError' || /401|unauthori[sz]ed|invalid api key/i.test(e.message))
      })

      test('an unknown sandbox is 404', async () => {
        await assert.rejects(Sandbox.getInfo('nosuchsandbox0000000'), (e) => /not ?found/i.test(`${e.name} ${e.message}`))
        assert.equal(await Sandbox.kill('nosuchsandbox0000000'), false)
        await assert.rejects(Sandbox.setTimeout('nosuchsandbox0000000', 60_000), (e) => /not ?found/i.test(`${e.name} ${e.message}`))
      })
    })
  }
})
