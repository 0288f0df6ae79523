// Minimal Connect-over-HTTP client for checking envd's wire behaviour byte by byte (no SDK in the way).

/** One envelope: [flags u8][length u32 BE][payload]. */
export function envelope(payload, flags = 0) {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload))
  const head = Buffer.alloc(5)
  head.writeUInt8(flags, 0)
  head.writeUInt32BE(body.length, 1)
  return Buffer.concat([head, body])
}

/** Splits a streaming response body into { flags, json } frames; throws on trailing garbage. */
export function frames(buf) {
  const out = []
  let off = 0
  while (off < buf.length) {
    if (buf.length - off < 5) throw new Error(`truncated envelope header at ${off}`)
    const flags = buf.readUInt8(off)
    const len = buf.readUInt32BE(off + 1)
    if (buf.length - off - 5 < len) throw new Error(`truncated envelope at ${off}`)
    out.push({ flags, json: JSON.parse(buf.subarray(off + 5, off + 5 + len).toString()) })
    off += 5 + len
  }
  return out
}

export async function unary(base, procedure, body, headers = {}) {
  const r = await fetch(`${base}/${procedure}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'connect-protocol-version': '1', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  })
  const text = await r.text()
  let json
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: r.status, headers: r.headers, text, json }
}

export async function stream(base, procedure, rawBody, headers = {}) {
  const r = await fetch(`${base}/${procedure}`, {
    method: 'POST',
    headers: { 'content-type': 'application/connect+json', 'connect-protocol-version': '1', ...headers },
    body: rawBody,
  })
  const buf = Buffer.from(await r.arrayBuffer())
  return { status: r.status, headers: r.headers, frames: r.status === 200 ? frames(buf) : [], raw: buf }
}

export const basic = (user) => ({ authorization: `Basic ${Buffer.from(`${user}:`).toString('base64')}` })
