// Benchmark (not a test): where the time of one commands.run('true') goes, seen from the client. The SDK is not
// touched: undici, which the SDK fetches with, publishes each request's milestones on node:diagnostics_channel, and
// the runner timestamps them. Prints the median of each phase, as a table.
//
//   sdk before request   run() called -> undici request created (SDK and connect-web building the call)
//   undici dispatch      created -> request head written to the socket (head and the small body leave together)
//   envd until start     head written -> response head (envd flushes it with the start event: parse, spawn)
//   process lifetime     head -> last body chunk (bash -l -c true runs; envd sees the exit, sends end + end-stream)
//   undici finish        last chunk -> response complete
//   sdk after response   response complete -> run() resolved (SDK decoding events, CommandResult)
//
// Usage: node bench/commands-breakdown.mjs [--sdk 2.51.0] [--iterations 300] [--warmup 100] [--user user]
import diagnostics from 'node:diagnostics_channel'
import os from 'node:os'
import { startEnvd, sdks, ensureTemplateUser } from '../test/helpers/envd.mjs'
import { flags } from './flags.mjs'

const args = flags()
const version = args.sdk ?? '2.51.0'
const iterations = Number(args.iterations ?? 300)
const warmup = Number(args.warmup ?? 100)
const user = args.user ?? 'user'

ensureTemplateUser()

const now = () => Number(process.hrtime.bigint()) / 1e6
let current = null // the marks of the run in flight; commands run one at a time
const mark = (name) => () => {
  if (current && current[name] === undefined) current[name] = now()
}
diagnostics.subscribe('undici:request:create', mark('create'))
diagnostics.subscribe('undici:client:sendHeaders', mark('sendHeaders'))
diagnostics.subscribe('undici:request:headers', mark('headers'))
diagnostics.subscribe('undici:request:bodyChunkReceived', () => {
  if (current) {
    current.chunks = (current.chunks ?? 0) + 1
    current.lastChunk = now()
  }
})
diagnostics.subscribe('undici:request:trailers', mark('complete'))

const envd = await startEnvd({ args: ['--default-user', user] })
try {
  const { Sandbox } = await sdks[version]()
  const sbx = await Sandbox.create()
  const runs = []
  for (let i = 0; i < warmup + iterations; i++) {
    current = { call: now() }
    await sbx.commands.run('true')
    current.done = now()
    if (i >= warmup) runs.push(current)
    current = null
  }
  const complete = runs.filter((r) => ['create', 'sendHeaders', 'headers', 'lastChunk', 'complete'].every((k) => r[k] !== undefined))
  if (complete.length < runs.length / 2) {
    throw new Error(`undici published milestones for only ${complete.length} of ${runs.length} runs`)
  }
  const median = (f) => {
    const v = complete.map(f).sort((a, b) => a - b)
    return v[Math.floor(v.length / 2)]
  }
  const rows = [
    ['sdk before request', (r) => r.create - r.call],
    ['undici dispatch (created -> written)', (r) => r.sendHeaders - r.create],
    ['envd until start (head + start event)', (r) => r.headers - r.sendHeaders],
    ['process lifetime (start -> last chunk)', (r) => r.lastChunk - r.headers],
    ['undici finish (last chunk -> complete)', (r) => r.complete - r.lastChunk],
    ['sdk after response', (r) => r.done - r.complete],
    [`commands.run('true') total (e2b ${version}, user ${user})`, (r) => r.done - r.call],
  ]
  console.log(`| ${('phase (median of ' + complete.length + ' runs)').padEnd(56)} | ${'ms'.padStart(8)} |`)
  for (const [name, f] of rows) console.log(`| ${name.padEnd(56)} | ${median(f).toFixed(3).padStart(8)} |`)
  console.log(`| ${'response body chunks per run (median)'.padEnd(56)} | ${String(median((r) => r.chunks)).padStart(8)} |`)
  console.log(`| ${'load average (1 min) at the end'.padEnd(56)} | ${os.loadavg()[0].toFixed(2).padStart(8)} |`)
} finally {
  await envd.stop()
}
