// A strict reader of the Prometheus text exposition format 0.0.4, for the e2e suite: it refuses what a scraper
// refuses (bad names, bad escapes, values that are not floats, TYPE/HELP twice or TYPE after samples, a family in two
// groups, duplicate series, histograms without +Inf, decreasing buckets or a _count unlike the +Inf bucket, no final
// newline). Written from the format's description; the Java tests use io.sandboxd.testing.PrometheusText, the same rules.
const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const FLOAT = /^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?Inf|NaN)$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function num(s) {
  if (s === '+Inf' || s === 'Inf') return Infinity
  if (s === '-Inf') return -Infinity
  if (s === 'NaN') return NaN
  return Number(s)
}

/** @returns {Map<string, {type: string, help?: string, samples: {name: string, labels: object, value: number}[]}>} */
export function parsePrometheusText(text) {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a newline')
  const families = new Map()
  const closed = new Set()
  const series = new Set()
  let current = null
  const family = (name) => {
    if (!families.has(name)) families.set(name, { type: 'untyped', samples: [], typed: false })
    return families.get(name)
  }
  const enter = (name, line) => {
    if (name === current) return
    if (closed.has(name)) throw new Error(`line ${line}: family ${name} in two separate groups`)
    if (current !== null) closed.add(current)
    current = name
  }
  const familyOf = (name) => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (!name.endsWith(suffix)) continue
      const base = name.slice(0, -suffix.length)
      const t = families.get(base)?.type
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base
    }
    return name
  }
  const lines = text.split('\n')
  lines.forEach((line, i) => {
    const n = i + 1
    if (line === '') return
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line)
      if (!m) return // a plain comment
      const [, kind, name, rest = ''] = m
      if (!METRIC.test(name)) throw new Error(`line ${n}: bad metric name ${name}`)
      enter(name, n)
      const f = family(name)
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`line ${n}: unknown type ${rest}`)
        if (f.typed) throw new Error(`line ${n}: a second TYPE for ${name}`)
        if (f.samples.length) throw new Error(`line ${n}: TYPE of ${name} after its samples`)
        f.type = rest
        f.typed = true
      } else {
        if (f.help !== undefined) throw new Error(`line ${n}: a second HELP for ${name}`)
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`line ${n}: bad escape in HELP`)
        f.help = rest.replace(/\\(\\|n)/g, (_, c) => (c === 'n' ? '\n' : '\\'))
      }
      return
    }
    const m = /^([^{ ]+)(\{(.*)\})? (\S+)(?: (\S+))?$/.exec(line)
    if (!m) throw new Error(`line ${n}: not a sample: ${line}`)
    const [, name, , body, value, ts] = m
    if (!METRIC.test(name)) throw new Error(`line ${n}: bad metric name ${name}`)
    if (!FLOAT.test(value)) throw new Error(`line ${n}: bad value ${value}`)
    if (ts !== undefined && !/^-?\d+$/.test(ts)) throw new Error(`line ${n}: bad timestamp ${ts}`)
    const labels = {}
    if (body !== undefined) {
      let rest = body
      while (rest.length) {
        const lm = /^([^=]+)="((?:[^"\\]|\\.)*)"(,?)/.exec(rest)
        if (!lm) throw new Error(`line ${n}: bad label set {${body}}`)
        const [all, lname, raw, comma] = lm
        if (!LABEL.test(lname) || lname.startsWith('__')) throw new Error(`line ${n}: bad label name ${lname}`)
        if (lname in labels) throw new Error(`line ${n}: label ${lname} twice`)
        if (/\\[^\\"n]/.test(raw.replace(/\\\\/g, ''))) throw new Error(`line ${n}: bad escape in label ${lname}`)
        labels[lname] = raw.replace(/\\(\\|"|n)/g, (_, c) => (c === 'n' ? '\n' : c))
        rest = rest.slice(all.length)
        if (!comma && rest.length) throw new Error(`line ${n}: expected , after label ${lname}`)
      }
    }
    const fname = familyOf(name)
    enter(fname, n)
    const key = name + JSON.stringify(Object.entries(labels).sort())
    if (series.has(key)) throw new Error(`line ${n}: duplicate series ${key}`)
    series.add(key)
    family(fname).samples.push({ name, labels, value: num(value) })
  })
  for (const [name, f] of families) {
    if (f.type !== 'histogram') continue
    const groups = new Map()
    for (const s of f.samples) {
      const { le, ...rest } = s.labels
      const key = JSON.stringify(Object.entries(rest).sort())
      if (!groups.has(key)) groups.set(key, { buckets: [], count: undefined })
      const g = groups.get(key)
      if (s.name === `${name}_bucket`) {
        if (le === undefined || !FLOAT.test(le)) throw new Error(`${name}: bucket without a valid le`)
        g.buckets.push([num(le), s.value])
      } else if (s.name === `${name}_count`) g.count = s.value
      else if (s.name !== `${name}_sum`) throw new Error(`${name}: sample ${s.name} in a histogram`)
    }
    for (const [key, g] of groups) {
      g.buckets.sort((a, b) => a[0] - b[0])
      g.buckets.forEach(([, v], i) => { if (i > 0 && v < g.buckets[i - 1][1]) throw new Error(`${name}${key}: buckets decrease`) })
      const inf = g.buckets.find(([le]) => le === Infinity)
      if (!inf) throw new Error(`${name}${key}: no +Inf bucket`)
      if (g.count !== inf[1]) throw new Error(`${name}${key}: _count ${g.count} differs from the +Inf bucket ${inf[1]}`)
    }
  }
  return families
}

/** The value of the series `name` with exactly `labels`, or 0 when it is absent. */
export function seriesValue(families, name, labels = {}) {
  const want = JSON.stringify(Object.entries(labels).sort())
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want) return s.value
    }
  }
  return 0
}
