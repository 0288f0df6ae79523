// files.* of the unmodified E2B SDK (both pinned versions) against envd.jar in debug mode, plus upload/download
// URLs signed with a token set through /init. Setup and checks on disk use node's fs: envd runs on this machine.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'
import { startEnvd, sdks, ensureTemplateUser } from './helpers/envd.mjs'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function init(url, body) {
  const r = await fetch(`${url}/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  assert.equal(r.status, 204, await r.text())
}

/** Polls until `pred` holds for something in `list`, or fails after 10 s with what was seen. */
async function eventually(list, pred, what) {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (list.some(pred)) return list.find(pred)
    await sleep(25)
  }
  assert.fail(`no ${what}; saw ${JSON.stringify(list.map((e) => [e.type, e.name]))}`)
}

let envd
let templateUser
before(async () => {
  templateUser = ensureTemplateUser()
  envd = await startEnvd()
  await init(envd.url, { defaultUser: 'user' })
})
after(async () => { await envd?.stop() })

for (const [version, load] of Object.entries(sdks)) {
  describe(`files with e2b ${version}`, () => {
    let e2b
    let sbx
    let dir
    before(async () => {
      e2b = await load()
      sbx = await e2b.Sandbox.create()
      dir = `/home/user/sdk-files-${version}-${crypto.randomBytes(4).toString('hex')}`
      fs.mkdirSync(dir, { recursive: true })
      fs.chownSync(dir, templateUser.uid, templateUser.gid)
    })
    after(() => fs.rmSync(dir, { recursive: true, force: true }))

    test('write and read text; the file and its new parents belong to the user', async () => {
      const p = `${dir}/new/parent/hello.txt`
      const info = await sbx.files.write(p, 'hello world')
      assert.equal(info.path, p)
      assert.equal(info.name, 'hello.txt')
      assert.equal(await sbx.files.read(p), 'hello world')
      assert.equal(fs.statSync(p).uid, templateUser.uid)
      assert.equal(fs.statSync(`${dir}/new`).uid, templateUser.uid)
      await sbx.files.write(p, 'short')
      assert.equal(await sbx.files.read(p), 'short', 'an existing file is truncated')
    })

    test('relative and ~ paths are the user\'s home', async () => {
      const name = `rel-${version}.txt`
      await sbx.files.write(name, 'rel')
      assert.equal(fs.readFileSync(`/home/user/${name}`, 'utf8'), 'rel')
      assert.equal(await sbx.files.read(`~/${name}`), 'rel')
      await sbx.files.remove(name)
    })

    test('bytes, blobs and streams round-trip', async () => {
      const bytes = crypto.randomBytes(200_000)
      await sbx.files.write(`${dir}/b.bin`, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))
      const back = await sbx.files.read(`${dir}/b.bin`, { format: 'bytes' })
      assert.ok(back instanceof Uint8Array)
      assert.deepEqual(Buffer.from(back), bytes)
      const blob = await sbx.files.read(`${dir}/b.bin`, { format: 'blob' })
      assert.deepEqual(Buffer.from(await blob.arrayBuffer()), bytes)

      const chunks = [Buffer.from('streamed '), Buffer.from('in '), Buffer.from('pieces')]
      const stream = new ReadableStream({ start(c) { for (const x of chunks) c.enqueue(x); c.close() } })
      await sbx.files.write(`${dir}/s.txt`, stream)
      const rs = await sbx.files.read(`${dir}/s.txt`, { format: 'stream' })
      let text = ''
      for await (const part of rs) text += Buffer.from(part).toString()
      assert.equal(text, 'streamed in pieces')
      assert.equal(await sbx.files.read(`${dir}/empty.txt`).catch((e) => e.constructor.name), 'FileNotFoundError')
    })

    test('an empty file reads as an empty string', async () => {
      await sbx.files.write(`${dir}/empty.txt`, '')
      assert.equal(await sbx.files.read(`${dir}/empty.txt`), '')
    })

    test('multi-file write', async () => {
      const res = await sbx.files.write([
        { path: `${dir}/multi/one.txt`, data: 'one' },
        { path: `${dir}/multi/two.txt`, data: new Blob(['two']) },
      ])
      assert.equal(res.length, 2)
      assert.deepEqual(res.map((r) => r.name).sort(), ['one.txt', 'two.txt'])
      assert.equal(fs.readFileSync(`${dir}/multi/two.txt`, 'utf8'), 'two')
    })

    test('gzip upload and download', async () => {
      const text = 'squeeze me '.repeat(5000)
      await sbx.files.write(`${dir}/gz.txt`, text, { gzip: true })
      assert.equal(fs.readFileSync(`${dir}/gz.txt`, 'utf8'), text)
      assert.equal(await sbx.files.read(`${dir}/gz.txt`, { gzip: true }), text)
    })

    test('metadata is stored with the file and shown by getInfo and list', async () => {
      const info = await sbx.files.write(`${dir}/meta.txt`, 'm', { metadata: { author: 'alice', purpose: 'sdk test' } })
      assert.deepEqual(info.metadata, { author: 'alice', purpose: 'sdk test' })
      assert.deepEqual((await sbx.files.getInfo(`${dir}/meta.txt`)).metadata, { author: 'alice', purpose: 'sdk test' })
      const listed = (await sbx.files.list(dir)).find((e) => e.name === 'meta.txt')
      assert.deepEqual(listed.metadata, { author: 'alice', purpose: 'sdk test' })
      await sbx.files.write(`${dir}/meta.txt`, 'm2', { metadata: { author: 'bob' } })
      assert.deepEqual((await sbx.files.getInfo(`${dir}/meta.txt`)).metadata, { author: 'bob' })
    })

    test('list with depth', async () => {
      fs.mkdirSync(`${dir}/tree/a/b/c`, { recursive: true })
      fs.writeFileSync(`${dir}/tree/top.txt`, 't')
      fs.writeFileSync(`${dir}/tree/a/b/deep.txt`, 'd')
      const one = await sbx.files.list(`${dir}/tree`)
      assert.deepEqual(one.map((e) => e.name), ['a', 'top.txt'])
      assert.equal(one[0].type, 'dir')
      assert.equal(one[1].type, 'file')
      assert.equal(one[1].path, `${dir}/tree/top.txt`)
      const three = await sbx.files.list(`${dir}/tree`, { depth: 3 })
      assert.deepEqual(three.map((e) => path.relative(`${dir}/tree`, e.path)), ['a', 'a/b', 'a/b/c', 'a/b/deep.txt', 'top.txt'])
      await assert.rejects(sbx.files.list(`${dir}/nope`), e2b.NotFoundError)
      await assert.rejects(sbx.files.list(`${dir}/tree/top.txt`), e2b.InvalidArgumentError)
    })

    test('exists', async () => {
      fs.writeFileSync(`${dir}/here.txt`, 'x')
      assert.equal(await sbx.files.exists(`${dir}/here.txt`), true)
      assert.equal(await sbx.files.exists(`${dir}/not-here.txt`), false)
    })

    test('getInfo of a symlink shows the target\'s type and the resolved target', async () => {
      fs.writeFileSync(`${dir}/target.txt`, 'target data')
      fs.chmodSync(`${dir}/target.txt`, 0o640)
      fs.symlinkSync('target.txt', `${dir}/link.txt`)
      const info = await sbx.files.getInfo(`${dir}/link.txt`)
      assert.equal(info.name, 'link.txt')
      assert.equal(info.type, 'file')
      assert.equal(info.symlinkTarget, `${dir}/target.txt`)
      assert.equal(info.mode, 0o640)
      assert.equal(info.permissions, 'Lrwxrwxrwx')
      const plain = await sbx.files.getInfo(`${dir}/target.txt`)
      assert.equal(plain.permissions, '-rw-r-----')
      assert.equal(plain.size, 11)
      assert.equal(plain.owner, 'root')
      assert.ok(plain.modifiedTime instanceof Date)
      assert.equal(plain.symlinkTarget, undefined)
    })

    test('makeDir twice: true, then false', async () => {
      assert.equal(await sbx.files.makeDir(`${dir}/made/deep`), true)
      assert.equal(await sbx.files.makeDir(`${dir}/made/deep`), false)
      assert.equal(fs.statSync(`${dir}/made`).uid, templateUser.uid)
    })

    test('rename', async () => {
      fs.writeFileSync(`${dir}/old.txt`, 'moving')
      const info = await sbx.files.rename(`${dir}/old.txt`, `${dir}/moved/new.txt`)
      assert.equal(info.path, `${dir}/moved/new.txt`)
      assert.equal(info.name, 'new.txt')
      assert.equal(fs.existsSync(`${dir}/old.txt`), false)
      assert.equal(fs.readFileSync(`${dir}/moved/new.txt`, 'utf8'), 'moving')
      await assert.rejects(sbx.files.rename(`${dir}/old.txt`, `${dir}/x`), e2b.NotFoundError)
    })

    test('remove is rm -rf and missing is fine', async () => {
      fs.mkdirSync(`${dir}/rm/sub`, { recursive: true })
      fs.writeFileSync(`${dir}/rm/sub/f`, 'f')
      await sbx.files.remove(`${dir}/rm`)
      assert.equal(fs.existsSync(`${dir}/rm`), false)
      await sbx.files.remove(`${dir}/rm`)
    })

    test('watchDir recursive with includeEntry', async () => {
      fs.mkdirSync(`${dir}/watched`)
      const events = []
      const handle = await sbx.files.watchDir(`${dir}/watched`, (e) => events.push(e), { recursive: true, includeEntry: true })
      try {
        fs.mkdirSync(`${dir}/watched/sub`)
        await eventually(events, (e) => e.name === 'sub' && e.type === e2b.FilesystemEventType.CREATE, 'create of sub')
        fs.writeFileSync(`${dir}/watched/sub/inner.txt`, 'inner')
        const created = await eventually(events, (e) => e.name === 'sub/inner.txt' && e.type === e2b.FilesystemEventType.CREATE, 'create of sub/inner.txt')
        assert.equal(created.entry.path, `${dir}/watched/sub/inner.txt`)
        assert.equal(created.entry.type, 'file')
        await eventually(events, (e) => e.name === 'sub/inner.txt' && e.type === e2b.FilesystemEventType.WRITE, 'write of sub/inner.txt')
        fs.chmodSync(`${dir}/watched/sub/inner.txt`, 0o600)
        await eventually(events, (e) => e.name === 'sub/inner.txt' && e.type === e2b.FilesystemEventType.CHMOD, 'chmod')
        fs.renameSync(`${dir}/watched/sub/inner.txt`, `${dir}/watched/renamed.txt`)
        await eventually(events, (e) => e.name === 'sub/inner.txt' && e.type === e2b.FilesystemEventType.RENAME, 'rename')
        fs.rmSync(`${dir}/watched/renamed.txt`)
        const removed = await eventually(events, (e) => e.name === 'renamed.txt' && e.type === e2b.FilesystemEventType.REMOVE, 'remove')
        assert.equal(removed.entry, undefined)
      } finally {
        await handle.stop()
      }
      await assert.rejects(sbx.files.watchDir(`${dir}/no-such-dir`, () => {}), e2b.NotFoundError)
    })

    test('write errors come back as SDK errors', async () => {
      fs.mkdirSync(`${dir}/a-dir`, { recursive: true })
      await assert.rejects(sbx.files.write(`${dir}/a-dir`, 'x'), e2b.InvalidArgumentError)
      await assert.rejects(sbx.files.read(`${dir}/a-dir`), e2b.InvalidArgumentError)
      await assert.rejects(sbx.files.read(`${dir}/x`, { user: 'no-such-user' }), e2b.AuthenticationError)
    })
  })
}

describe('upload and download URLs with a token set through /init', () => {
  const token = crypto.randomBytes(16).toString('hex')
  let secured
  before(async () => {
    secured = await startEnvd()
    await init(secured.url, { accessToken: token, defaultUser: 'user' })
  })
  after(async () => { await secured?.stop() })

  for (const [version, load] of Object.entries(sdks)) {
    test(`e2b ${version}: signed URLs work without the token, unsigned ones do not`, async () => {
      const e2b = await load()
      // In debug mode the SDK never asks the API for the sandbox's token; a secured sandbox is one that has it.
      const sbx = new e2b.Sandbox({ sandboxId: 'debug_sandbox_id', envdVersion: '0.6.13', envdAccessToken: token,
        debug: true, sandboxUrl: secured.url })
      const p = `/home/user/url-${version}-${crypto.randomBytes(3).toString('hex')}.txt`
      try {
        const up = await sbx.uploadUrl(p, { useSignatureExpiration: 600 })
        assert.match(up, /signature=v1_/)
        assert.match(up, /signature_expiration=\d+/)
        const form = new FormData()
        form.append('file', new Blob(['via url']), 'ignored-name')
        const r = await fetch(up, { method: 'POST', body: form })
        assert.equal(r.status, 200, await r.clone().text())
        assert.equal((await r.json())[0].path, p)
        assert.equal(fs.statSync(p).uid, ensureTemplateUser().uid)

        const down = await sbx.downloadUrl(p)
        const d = await fetch(down)
        assert.equal(d.status, 200)
        assert.equal(await d.text(), 'via url')

        const unsigned = await fetch(`${secured.url}/files?path=${encodeURIComponent(p)}`)
        assert.equal(unsigned.status, 401)
        assert.equal((await unsigned.json()).code, 401)
        const wrongOp = await fetch(down.replace('/files?', '/files?x=1&'), { method: 'POST', body: form })
        assert.equal(wrongOp.status, 401, 'a read signature does not allow writing')
        await wrongOp.arrayBuffer()
        // and the SDK's own calls carry the token
        assert.equal(await sbx.files.read(p), 'via url')
        const open = await e2b.Sandbox.create()
        await assert.rejects(open.files.read(p), e2b.AuthenticationError)
      } finally {
        fs.rmSync(p, { force: true })
      }
    })
  }
})
