// bench_rules_peers.mjs - the same rule packs and facts as bench_rules.c,
// evaluated with json-rules-engine and @marcbachmann/cel-js.
//
//   node bench_rules_peers.mjs ENGINE PACK DIR [SECONDS]
//     ENGINE  jre | cel
//     PACK    default (examples/default-rules.yaml, written out below)
//             | synthetic (DIR/synthetic-jre.json, DIR/synthetic-cel.txt)
//     DIR     build/bench (facts.tsv, node_modules)
// prints "evals_per_sec ns_per_eval fired_checksum rules"; time is CPU time.
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {pathToFileURL} from 'node:url'
import path from 'node:path'

const [engineName, packName, dir, secondsArg] = process.argv.slice(2)
const seconds = Number(secondsArg || 1)
const require = createRequire(path.resolve(dir, 'package.json'))

// ---- facts: flat names (emotion.anger -> emotion_anger), wait in ms ----
const lines = readFileSync(path.join(dir, 'facts.tsv'), 'utf8').trim().split('\n')
const cols = lines[0].split('\t')
const facts = lines.slice(1).map((l) => {
  const v = Object.fromEntries(l.split('\t').map((x, i) => [cols[i], x]))
  return {
    intent: v.intent,
    text: v.text,
    emotion_anger: Number(v.anger),
    negativity: Number(v.negativity),
    emotion_trend: Number(v.trend),
    emotion_peak: Number(v.peak),
    customer_tier: v.tier,
    customer_value: Number(v.value),
    customer_risk: v.risk ? v.risk.split(',') : [],
    session_human_requests: Number(v.human_requests),
    session_contacts_7d: Number(v.contacts_7d),
    session_failed_answers: Number(v.failed_answers),
    session_repeat_issue: v.repeat_issue === '1',
    session_turns: Number(v.turns),
    wait_ms: Number(v.wait_ms),
    transfer_amount: Number(v.transfer_amount)
  }
})

// ---- the default pack (examples/default-rules.yaml), rule for rule ----
const FRAUD = '盗刷|被盗|诈骗|被骗|冒用|unauthori[sz]ed|fraud|scam'
const SCAM = '安全账户|公检法|涉嫌洗钱|刷单返利|冒充(客服|警察|公安)|\\b(safe account|caller (said|told me)|(someone|somebody|a man|a woman|they) called (me )?(and )?(said|told me)|be frozen (if|unless))\\b'
const COMPLAINT = '投诉|赔偿|举报|曝光|消协|12315|\\b(complain(t|ts|ed|ing)?|compensat(e|ion)|report you|refund (me )?now|sue you|lawyer)\\b'
const RISKY = ['fraud', 'suspected_fraud', 'disputed_charge', 'aml']

const defaultCel = [
  `intent == "fraud_report" || customer_risk.exists(r, r in ["fraud", "suspected_fraud", "disputed_charge", "aml"]) || (intent in ["transfer_money", "billing_dispute"] && transfer_amount >= 50000.0) || text.matches("${FRAUD}") || text.matches("${SCAM.replaceAll('\\', '\\\\')}")`,
  'session_human_requests >= 3.0',
  'emotion_anger > 80.0',
  `intent == "complaint" || text.matches("${COMPLAINT.replaceAll('\\', '\\\\')}")`,
  'wait_ms > 90000.0',
  'session_repeat_issue || session_contacts_7d >= 3.0 || session_failed_answers >= 2.0',
  'emotion_trend > 0.0 && negativity >= 50.0',
  'emotion_trend > 0.0 && negativity >= 65.0',
  'emotion_trend > 0.0 && (negativity >= 80.0 || emotion_peak >= 90.0)',
  'customer_tier in ["vip", "gold", "platinum"] || customer_value >= 10000.0'
]

const c = (fact, operator, value) => ({fact, operator, value})
const defaultJre = [
  {any: [c('intent', 'equal', 'fraud_report'),
    {any: RISKY.map((r) => c('customer_risk', 'contains', r))},
    {all: [c('intent', 'in', ['transfer_money', 'billing_dispute']),
      c('transfer_amount', 'greaterThanInclusive', 50000)]},
    c('text', 'matches', FRAUD),
    c('text', 'matches', SCAM)]},
  {all: [c('session_human_requests', 'greaterThanInclusive', 3)]},
  {all: [c('emotion_anger', 'greaterThan', 80)]},
  {any: [c('intent', 'equal', 'complaint'), c('text', 'matches', COMPLAINT)]},
  {all: [c('wait_ms', 'greaterThan', 90000)]},
  {any: [c('session_repeat_issue', 'equal', true),
    c('session_contacts_7d', 'greaterThanInclusive', 3),
    c('session_failed_answers', 'greaterThanInclusive', 2)]},
  {all: [c('emotion_trend', 'greaterThan', 0), c('negativity', 'greaterThanInclusive', 50)]},
  {all: [c('emotion_trend', 'greaterThan', 0), c('negativity', 'greaterThanInclusive', 65)]},
  {all: [c('emotion_trend', 'greaterThan', 0),
    {any: [c('negativity', 'greaterThanInclusive', 80), c('emotion_peak', 'greaterThanInclusive', 90)]}]},
  {any: [c('customer_tier', 'in', ['vip', 'gold', 'platinum']),
    c('customer_value', 'greaterThanInclusive', 10000)]}
].map((conditions, i) => ({conditions, event: {type: `d${i}`}, priority: 100 - i}))

const jreRules = packName === 'default'
  ? defaultJre
  : JSON.parse(readFileSync(path.join(dir, 'synthetic-jre.json'), 'utf8'))
const celExprs = packName === 'default'
  ? defaultCel
  : readFileSync(path.join(dir, 'synthetic-cel.txt'), 'utf8').trim().split('\n')

const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

async function benchJre () {
  const {Engine} = require('json-rules-engine')
  const engine = new Engine([], {allowUndefinedFacts: true})
  const cache = new Map()
  engine.addOperator('matches', (value, pattern) => {
    let re = cache.get(pattern)
    if (!re) cache.set(pattern, (re = new RegExp(pattern)))
    return typeof value === 'string' && re.test(value)
  })
  for (const r of jreRules) engine.addRule(r)
  let checksum = 0
  for (const f of facts) checksum += (await engine.run(f)).events.length
  let evals = 0
  const t0 = cpu()
  let t
  do {
    for (const f of facts) await engine.run(f)
    evals += facts.length
    t = cpu() - t0
  } while (t < seconds)
  return [evals, t, checksum, jreRules.length]
}

async function benchCel () {
  const url = pathToFileURL(require.resolve('@marcbachmann/cel-js')).href
  const {parse} = await import(url)
  const progs = celExprs.map((e) => parse(e))
  let checksum = 0
  for (const f of facts) for (const p of progs) if (p(f) === true) checksum++
  let evals = 0
  let sink = 0
  const t0 = cpu()
  let t
  do {
    for (const f of facts) for (const p of progs) if (p(f) === true) sink++
    evals += facts.length
    t = cpu() - t0
  } while (t < seconds)
  if (sink < 0) console.log(sink)
  return [evals, t, checksum, progs.length]
}

const [evals, t, checksum, n] = engineName === 'jre' ? await benchJre() : await benchCel()
console.log(`${(evals / t).toFixed(0)} ${(t * 1e9 / evals).toFixed(1)} ${checksum} ${n}`)
