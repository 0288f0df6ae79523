// Several hosts on one machine: three `sandboxd serve` nodes sharing Debian's PostgreSQL and Redis (started here),
// node a on the host's network, nodes b and c each in a network namespace of its own, all on one bridge. The
// unmodified SDK creates sandboxes through one node's API and reaches them through another node's proxy; then a
// node is killed with SIGKILL, its sandboxes are marked lost and creates go to the others; restarted, it takes its
// sandbox back. Needs root, runc, redis-server and postgresql; node a reuses the e2e suite's base template when it
// is there (SANDBOXD_E2E_DATA_DIR), else builds it (about a minute).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, readFileSync, mkdirSync, mkdtempSync, rmSync, cpSync, chownSync, chmodSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const repo = path.resolve(import.meta.dirname, '../..')
const sandboxd = path.join(repo, 'sandboxd')
const e2eData = process.env.SANDBOXD_E2E_DATA_DIR ?? '/var/tmp/sandboxd-e2e'
const PG_BIN = '/usr/lib/postgresql/15/bin'
const BRIDGE = 'sbxcl0'
const HOST_IP = '10.99.0.1'
const REDIS_PORT = 56379
const PG_PORT = 55432
const redisUrl = `redis://${HOST_IP}:${REDIS_PORT}`
const dbUrl = `postgres://sandboxd:cluster@${HOST_IP}:${PG_PORT}/sandboxd`

function missing() {
  if (process.env.SANDBOXD_E2E !== '1') return 'opt-in: run `npm run test:cluster` (sets SANDBOXD_E2E=1)'
  if (process.getuid?.() !== 0) return 'needs root (namespaces, bridges, the jail runtime)'
  for (const [tool, pkg] of [['runc', 'runc'], ['redis-server', 'redis-server'], ['redis-cli', 'redis-tools'],
    ['nsenter', 'util-linux'], ['ip', 'iproute2'], ['openssl', 'openssl']]) {
    try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }) } catch { return `needs ${tool} (apt-get install -y ${pkg})` }
  }
  if (!existsSync(`${PG_BIN}/initdb`)) return 'needs PostgreSQL 15 (apt-get install -y postgresql)'
  return null
}
const skip = missing()
if (skip) console.log(`SKIPPED cluster: ${skip}`)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...opts })
const quiet = (cmd, args) => { try { sh(cmd, args, { stdio: 'ignore' }) } catch { /* already gone */ } }
const redis = (...args) => sh('redis-cli', ['-h', HOST_IP, '-p', String(REDIS_PORT), '--raw', ...args],
  { stdio: ['ignore', 'pipe', 'ignore'] }).trim()

async function waitFor(what, cond, ms = 30_000) {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

const work = skip ? null : mkdtempSync('/var/tmp/sandboxd-cluster-')
const nodes = {
  a: { id: 'a', ip: HOST_IP, netns: null, prefix: 'cla' },
  b: { id: 'b', ip: '10.99.0.2', netns: 'sbxcl-b', prefix: 'clb' },
  // c holds more, so right after its death it still looks the emptiest to the others (its heartbeat has not run out)
  c: { id: 'c', ip: '10.99.0.3', netns: 'sbxcl-c', prefix: 'clc', capacity: 1000 },
}
const services = []

// Bridged traffic between b and c goes through the host's forward hook (br_netfilter); a daemon that finds IPv4
// forwarding off turns it on but drops forwarding it did not ask for, which would cut b from c. So forwarding is on
// for the test (as on a host meant to route), and put back afterwards.
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward'
let ipForward = null

function network() {
  ipForward = readFileSync(IP_FORWARD, 'utf8').trim()
  writeFileSync(IP_FORWARD, '1')
  sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge'])
  sh('ip', ['addr', 'add', `${HOST_IP}/24`, 'dev', BRIDGE])
  sh('ip', ['link', 'set', BRIDGE, 'up'])
  for (const n of [nodes.b, nodes.c]) {
    const host = `${BRIDGE}${n.id}`
    sh('ip', ['netns', 'add', n.netns])
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.netns])
    sh('ip', ['link', 'set', host, 'master', BRIDGE, 'up'])
    sh('ip', ['-n', n.netns, 'addr', 'add', `${n.ip}/24`, 'dev', 'eth0'])
    sh('ip', ['-n', n.netns, 'link', 'set', 'eth0', 'up'])
    sh('ip', ['-n', n.netns, 'link', 'set', 'lo', 'up'])
    sh('ip', ['-n', n.netns, 'route', 'add', 'default', 'via', HOST_IP])
  }
}

function unnetwork() {
  for (const n of [nodes.b, nodes.c]) quiet('ip', ['netns', 'del', n.netns])
  quiet('ip', ['link', 'del', BRIDGE])
  if (ipForward !== null) writeFileSync(IP_FORWARD, ipForward)
}

async function startDatabases() {
  const pgDir = path.join(work, 'pg')
  chmodSync(work, 0o755) // postgres runs as its own user and must get through to its directory
  mkdirSync(pgDir)
  const uid = Number(sh('id', ['-u', 'postgres']).trim())
  const gid = Number(sh('id', ['-g', 'postgres']).trim())
  chownSync(pgDir, uid, gid)
  sh('runuser', ['-u', 'postgres', '--', `${PG_BIN}/initdb`, '-D', `${pgDir}/data`, '-U', 'sandboxd', '-A', 'trust'],
    { stdio: 'ignore' })
  sh('sh', ['-c', `echo 'host all all 10.99.0.0/24 trust' >> ${pgDir}/data/pg_hba.conf`])
  const pg = spawn('runuser', ['-u', 'postgres', '--', `${PG_BIN}/postgres`, '-D', `${pgDir}/data`, '-h', HOST_IP,
    '-p', String(PG_PORT), '-k', pgDir], { stdio: 'ignore' })
  services.push(pg)
  await waitFor('postgres', () => {
    try { sh(`${PG_BIN}/pg_isready`, ['-h', HOST_IP, '-p', String(PG_PORT)], { stdio: 'ignore' }); return true } catch { return false }
  })
  sh('psql', ['-h', HOST_IP, '-p', String(PG_PORT), '-U', 'sandboxd', '-d', 'postgres', '-c', 'CREATE DATABASE sandboxd'],
    { stdio: 'ignore' })
  const rd = spawn('redis-server', ['--port', String(REDIS_PORT), '--bind', HOST_IP, '--protected-mode', 'no',
    '--save', '', '--appendonly', 'no', '--dir', work], { stdio: 'ignore' })
  services.push(rd)
  await waitFor('redis', () => { try { return redis('PING') === 'PONG' } catch { return false } })
}

// The node service runs over mutual TLS: a cluster CA made here signs each node's certificate for its address.
function certificates() {
  const pki = path.join(work, 'pki')
  mkdirSync(pki)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  sh('openssl', ['req', '-x509', ...ec, '-keyout', `${pki}/ca.key`, '-out', `${pki}/ca.pem`, '-subj', '/CN=sandboxd-cluster-ca',
    '-days', '1'], { stdio: 'ignore' })
  for (const n of Object.values(nodes)) {
    writeFileSync(`${pki}/${n.id}.ext`, `subjectAltName=IP:${n.ip}\nextendedKeyUsage=serverAuth,clientAuth\n`)
    sh('openssl', ['req', ...ec, '-keyout', `${pki}/${n.id}.key`, '-out', `${pki}/${n.id}.csr`, '-subj', `/CN=node-${n.id}`],
      { stdio: 'ignore' })
    sh('openssl', ['x509', '-req', '-in', `${pki}/${n.id}.csr`, '-CA', `${pki}/ca.pem`, '-CAkey', `${pki}/ca.key`,
      '-CAcreateserial', '-out', `${pki}/${n.id}.pem`, '-days', '1', '-extfile', `${pki}/${n.id}.ext`], { stdio: 'ignore' })
    n.tls = ['--node-tls-cert', `${pki}/${n.id}.pem`, '--node-tls-key', `${pki}/${n.id}.key`, '--node-tls-ca', `${pki}/ca.pem`]
  }
}

/** cp -a: a template's rootfs holds device nodes, which fs.cpSync cannot copy. */
function copyTree(from, to) {
  mkdirSync(path.dirname(to), { recursive: true })
  sh('cp', ['-a', from, to])
}

function startNode(n) {
  n.dir ??= path.join(work, n.id)
  mkdirSync(n.dir, { recursive: true })
  rmSync(path.join(n.dir, 'sandboxd.env'), { force: true })
  const args = ['serve', '--data-dir', n.dir, '--bind', n.ip, '--api-port', '3000', '--proxy-port', '3002',
    '--node-port', '5008', '--redis', redisUrl, '--database-url', dbUrl, '--node-id', n.id, '--host-prefix', n.prefix,
    '--node-capacity', String(n.capacity ?? 64), ...(n.tls ?? []), '--warm-pool', '1', '--log-format', 'json']
  n.output = ''
  n.proc = n.netns ? spawn('nsenter', [`--net=/run/netns/${n.netns}`, sandboxd, ...args], { cwd: repo })
    : spawn(sandboxd, args, { cwd: repo })
  n.proc.stdout.on('data', (d) => { n.output += d })
  n.proc.stderr.on('data', (d) => { n.output += d })
  n.api = `http://${n.ip}:3000`
  n.proxy = `http://${n.ip}:3002`
}

async function nodeReady(n, ms = 15 * 60_000) {
  const envFile = path.join(n.dir, 'sandboxd.env')
  await waitFor(`node ${n.id} to be ready`, () => {
    if (n.proc.exitCode !== null) throw new Error(`node ${n.id} exited ${n.proc.exitCode}:\n${n.output.slice(-4000)}`)
    return existsSync(envFile) && readFileSync(envFile, 'utf8').includes(`E2B_API_URL=${n.api}\n`)
  }, ms)
  n.env = Object.fromEntries(readFileSync(envFile, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}

async function stopNode(n) {
  if (!n.proc || n.proc.exitCode !== null) return
  const exited = new Promise((r) => n.proc.once('exit', r))
  n.proc.kill('SIGTERM')
  if (!(await Promise.race([exited.then(() => true), sleep(60_000).then(() => false)]))) n.proc.kill('SIGKILL')
}

describe('cluster: three nodes, one PostgreSQL, one Redis', { skip: skip ?? false, timeout: 30 * 60_000 }, () => {
  let Sandbox
  let key
  const opts = (apiNode, proxyNode) => ({ apiUrl: apiNode.api, sandboxUrl: proxyNode.proxy, domain: 'localhost', apiKey: key })
  const routeOf = (id) => redis('GET', `sbx:route:${id}`)
  const spread = {}

  before(async () => {
    ({ Sandbox } = await import('e2b-2.51'))
    network()
    await startDatabases()
    certificates()
    const cached = path.join(e2eData, 'templates', 'base')
    nodes.a.dir = path.join(work, 'a')
    if (existsSync(cached)) copyTree(cached, path.join(nodes.a.dir, 'templates', 'base'))
    startNode(nodes.a)
    await nodeReady(nodes.a)
    key = nodes.a.env.E2B_API_KEY
    // Nodes b and c get node a's base template (no second debootstrap) and its keys (the cluster's fingerprint).
    for (const n of [nodes.b, nodes.c]) {
      n.dir = path.join(work, n.id)
      copyTree(path.join(nodes.a.dir, 'templates', 'base'), path.join(n.dir, 'templates', 'base'))
      for (const f of ['token-secret', 'secret-key']) cpSync(path.join(nodes.a.dir, f), path.join(n.dir, f))
      startNode(n)
    }
    await Promise.all([nodeReady(nodes.b), nodeReady(nodes.c)])
    await waitFor('three live nodes', () => ['a', 'b', 'c'].every((id) => redis('EXISTS', `sbx:node:${id}`) === '1'))
    for (const n of [nodes.a, nodes.b, nodes.c]) assert.match(n.output, /node service on \S+ \(mutual TLS/)
  }, { timeout: 20 * 60_000 })

  after(async () => {
    await Promise.all(Object.values(nodes).map(stopNode))
    // the nodes' own logs, for a failure's post-mortem (the work dir goes)
    for (const n of Object.values(nodes)) if (n.output) writeFileSync(`/tmp/sandboxd-cluster-${n.id}.log`, n.output)
    for (const s of services) s.kill('SIGTERM')
    await sleep(500)
    unnetwork()
    if (work) rmSync(work, { recursive: true, force: true })
  }, { timeout: 180_000 })

  test('a node whose token secrets differ from the cluster\'s refuses to start, saying why', async () => {
    const stray = { id: 'd', ip: HOST_IP, netns: null, prefix: 'cld', dir: path.join(work, 'd') }
    mkdirSync(stray.dir, { recursive: true })
    startNode(stray)
    const code = await new Promise((r) => stray.proc.once('exit', r))
    assert.notEqual(code, 0)
    assert.match(stray.output, /differ from the cluster's: copy both files/)
  })

  test('creates through node a spread over the nodes; every sandbox answers through another node\'s proxy', async () => {
    const made = []
    for (let i = 0; i < 3; i++) made.push(await Sandbox.create({ ...opts(nodes.a, nodes.a), timeoutMs: 600_000 }))
    for (const s of made) spread[routeOf(s.sandboxId)] = s.sandboxId
    assert.deepEqual(Object.keys(spread).sort(), ['a', 'b', 'c'], 'least loaded first: one on each node')
    for (const [node, id] of Object.entries(spread)) {
      // through b's proxy, whichever node runs it; the file written there is read back through c's proxy
      const viaB = await Sandbox.connect(id, opts(nodes.b, nodes.b))
      const r = await viaB.commands.run('echo on-$((40+2))')
      assert.equal(r.stdout, 'on-42\n')
      await viaB.files.write('/home/user/where.txt', `runs on ${node}`)
      const viaC = await Sandbox.connect(id, opts(nodes.c, nodes.c))
      assert.equal(await viaC.files.read('/home/user/where.txt'), `runs on ${node}`)
    }
    // every API node lists all three from the shared database
    for (const n of Object.values(nodes)) {
      const ids = (await Sandbox.list(opts(n, n)).nextItems()).map((s) => s.sandboxId)
      for (const id of Object.values(spread)) assert.ok(ids.includes(id), `node ${n.id} lists ${id}`)
    }
  })

  test('calls for a sandbox go to its node: timeout, metrics, pause and resume, kill', async () => {
    const onC = spread.c
    await Sandbox.setTimeout(onC, 900_000, opts(nodes.a, nodes.a))
    const end = new Date((await Sandbox.getInfo(onC, opts(nodes.b, nodes.b))).endAt).getTime()
    assert.ok(end > Date.now() + 800_000, 'the TTL set through a reached node c')
    assert.ok(Array.isArray(await Sandbox.getMetrics(onC, opts(nodes.a, nodes.a))))

    const onB = spread.b
    await Sandbox.betaPause(onB, opts(nodes.a, nodes.a))
    assert.equal((await Sandbox.getInfo(onB, opts(nodes.c, nodes.c))).state, 'paused')
    const resumed = await Sandbox.connect(onB, opts(nodes.c, nodes.a))
    assert.equal(await resumed.files.read('/home/user/where.txt'), 'runs on b')

    assert.equal(await Sandbox.kill(onB, opts(nodes.c, nodes.c)), true)
    assert.equal(await Sandbox.kill(onB, opts(nodes.a, nodes.a)), false, 'gone everywhere')
    await waitFor('the route of the killed sandbox to go', () => routeOf(onB) === '')
  })

  test('a node killed with SIGKILL: its sandboxes are marked lost and creates go to the others', async () => {
    const onC = spread.c
    nodes.c.proc.kill('SIGKILL')
    await new Promise((r) => nodes.c.proc.exitCode !== null ? r() : nodes.c.proc.once('exit', r))
    const t0 = Date.now()
    // Until c's heartbeat runs out (at least 4 s from now) the others still count it live and the least loaded: node a
    // places a create on c (the second at the latest), finds it not answering and places it again.
    const early = []
    for (let i = 0; i < 2; i++) early.push(await Sandbox.create({ ...opts(nodes.a, nodes.a), timeoutMs: 300_000 }))
    const earlyMs = Date.now() - t0
    for (const s of early) {
      assert.ok(['a', 'b'].includes(routeOf(s.sandboxId)), `placed on a live node, not ${routeOf(s.sandboxId)}`)
      assert.equal((await s.commands.run('echo ok')).stdout, 'ok\n')
    }
    if (earlyMs < 3_500) assert.match(nodes.a.output, /a create placed on node c goes to another node/)
    else console.log(`cluster: the two creates after SIGKILL took ${earlyMs} ms, past c's heartbeat; no retry checked`)
    for (const s of early) await s.kill()
    await waitFor('node c to be marked dead', () => redis('HEXISTS', 'sbx:lost', onC) === '1', 20_000)
    console.log(`cluster: node c's sandbox marked lost ${((Date.now() - t0) / 1000).toFixed(1)} s after SIGKILL`)

    await assert.rejects(Sandbox.getInfo(onC, opts(nodes.a, nodes.a)), (e) => /lost|not found/i.test(`${e.name} ${e.message}`))
    const listed = (await Sandbox.list(opts(nodes.b, nodes.b)).nextItems()).map((s) => s.sandboxId)
    assert.ok(!listed.includes(onC), 'a lost sandbox is not listed')
    assert.ok(listed.includes(spread.a), 'the others still are')
    const r = await fetch(`${nodes.a.proxy}/health`, { headers: { 'E2b-Sandbox-Id': onC, 'E2b-Sandbox-Port': '49983' } })
    assert.equal(r.status, 502, 'the proxy answers a lost sandbox like a gone one')

    const more = []
    for (let i = 0; i < 3; i++) more.push(await Sandbox.create({ ...opts(nodes.b, nodes.b), timeoutMs: 300_000 }))
    for (const s of more) {
      assert.ok(['a', 'b'].includes(routeOf(s.sandboxId)), `placed on a live node, not ${routeOf(s.sandboxId)}`)
      assert.equal((await s.commands.run('echo ok')).stdout, 'ok\n')
      await s.kill()
    }
  })

  test('the dead node restarts and takes its sandbox back', async () => {
    const onC = spread.c
    startNode(nodes.c)
    await nodeReady(nodes.c, 5 * 60_000)
    await waitFor('the sandbox to be routed again', () => routeOf(onC) === 'c')
    const again = await Sandbox.connect(onC, opts(nodes.a, nodes.b))
    assert.equal(await again.files.read('/home/user/where.txt'), 'runs on c')
    assert.equal((await again.commands.run('echo back')).stdout, 'back\n')
  })
})
