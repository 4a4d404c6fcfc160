/**
 * @module test/rules/secret-rules
 * The shipped secret rules (rules/secrets*.yaml) as a whole: each starts on
 * a literal or a keyword (the scanner's pre-filter), placeholders pass
 * every one of them, long tokens are redacted whole in any split, the
 * generic assignment grammar stops where a value ends, and a provider's
 * token is named by its provider's rule, not the generic ones.
 */
import t from 'tap'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { classOf, prefixDfaOf } from '../../src/rules/hold-automaton.js'
import type { CompiledRuleInternal } from '../../src/rules/compile-rule.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'
import type { ScanResult } from '../../src/scanner/types.js'
import { feedPieces } from '../scanner/scan-helpers.js'

const ruleSet = await loadRuleSet(defaultRulesDir())
const secretRules = ruleSet.rules.filter((r) => r.category === 'secret' && r.enabled)

function scan (text: string): ScanResult {
  return scanText(ruleSet, text)
}

function secretFindings (text: string): string[] {
  return scan(text).findings.filter((f) => f.category === 'secret').map((f) => f.ruleId)
}

/** Base64url-ish text from a seed: the same on every run, random enough to pass entropy floors. */
function randomish (seed: number, n: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'): string {
  let s = ''
  let x = seed >>> 0
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x297a2d39) >>> 0
    x = (x ^ (x >>> 12)) >>> 0
    s += alphabet[x % alphabet.length]
  }
  return s
}

t.test('every secret rule starts on a literal or a keyword, never on any letter', async (t) => {
  // The scanner steps a rule's automaton only at characters its first state
  // reads: a rule that may start on any letter or digit is stepped at
  // almost every character of every stream.
  const printable = Array.from({ length: 95 }, (_, i) => 32 + i)
  t.ok(secretRules.length >= 50, `${secretRules.length} secret rules`)
  for (const rule of secretRules) {
    const dfa = prefixDfaOf(rule as CompiledRuleInternal)
    if (dfa === undefined) {
      t.fail(`${rule.id} has no automaton`)
      continue
    }
    const starts = printable.filter((cp) => {
      const cls = classOf(dfa, cp)
      return cls !== 0 && (dfa.next[dfa.initial * dfa.classes + cls] as number) >= 0
    })
    t.ok(starts.length <= 24, `${rule.id} starts on ${starts.length} characters: ${String.fromCharCode(...starts)}`)
  }
})

t.test('placeholders pass every secret rule', async (t) => {
  const placeholders = [
    'OPENAI_API_KEY=sk-...',
    'api_key: XXXX',
    'api_key = "<your-key>"',
    'API_KEY=your_api_key_here',
    'PASSWORD=changeme',
    'SECRET=RANDOMSTRINGHERE',
    'password: ***',
    'aws_access_key_id = AKIAXXXXXXXXXXXXXXXX',
    'token: process.env.GITHUB_TOKEN',
    'token: ${GITHUB_TOKEN}',
    'export TOKEN=$GITHUB_TOKEN',
    'password = os.environ["DB_PASSWORD"]',
    'GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'STRIPE_SECRET_KEY=sk_live_1234567890abcdefghijklmn',
    'LINEAR_API_KEY=lin_api_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
    'DIGITALOCEAN_TOKEN=dop_v1_' + '0'.repeat(64),
    'GROQ_API_KEY=gsk_' + 'x'.repeat(52),
    'VAULT_TOKEN=hvs.XXXXXXXXXXXXXXXXXXXXXXXX',
    'SENTRY_AUTH_TOKEN=sntrys_YOUR_AUTH_TOKEN_HERE',
    'DD_API_KEY=<DATADOG_API_KEY>',
    'curl -u user:password https://api.example.com',
    'curl -u "$USER:$PASS" https://api.example.com',
    'postgres://user:password@localhost:5432/db',
    'amqp://guest:guest@localhost:5672/',
    'Authorization: Bearer <token>',
    'Authorization: Bearer YOUR_ACCESS_TOKEN_GOES_HERE'
  ]
  for (const text of placeholders) t.same(secretFindings(text), [], text)
})

t.test('code that names a secret is no secret', async (t) => {
  for (const text of [
    'password: string;',
    'apiKey?: string | undefined',
    'private_key: fs.readFileSync("key.pem"),',
    'const token = jwt.sign(payload, secret, { expiresIn: "1h" })',
    'token = this$1$1.getToken()',
    'const UNEXPECTED_TOKEN = /^Unexpected token/i',
    'const OID_MESSAGE_DIGEST_KEY = "1.2.840.113549.1.9.4"',
    'if (password === "hunter2hunter") return',
    'credentials: "same-origin",',
    'cache_key = f"user:{user_id}:profile"',
    '![coverage](https://codecov.io/gh/acme/api/graph/badge.svg?token=rn91iI4bSe)'
  ]) t.same(secretFindings(text), [], text)
})

t.test('the generic assignment stops where the value ends', async (t) => {
  t.equal(scan('DB_PASSWORD=Tr0ub4dor&3xyz, next').text, 'DB_PASSWORD=[SECRET:secret.generic_assignment], next')
  t.equal(scan('login(password="Tr0ub4dor&3xyz")').text, 'login(password="[SECRET:secret.generic_assignment]")')
  t.equal(scan('{ token: "gR7kP2mX9wQ4zT1v" }').text, '{ token: "[SECRET:secret.generic_assignment]" }')
  t.equal(scan('cfg[secret]=Xk29fQ7mLp2z;').text, 'cfg[secret]=[SECRET:secret.generic_assignment];')
  t.equal(scan('The password is: Xk29fQ7mLp2z.').text, 'The password is: Xk29fQ7mLp2z.', 'prose "is:" is no assignment')
  t.equal(scan('password: Xk29fQ7mLp2z.').text, 'password: [SECRET:secret.generic_assignment].', 'a full stop ends the value')
  t.equal(scan('password: "fm8Kq2vLx9Wz"').text, 'password: "[SECRET:secret.generic_assignment]"', 'a password that starts like a token head is still one')
  t.equal(scan('curl -u admin:Qz8rW2mK9vLp https://api.acme.io').text, 'curl -u admin:[SECRET:secret.generic_assignment] https://api.acme.io', 'only the password of -u user:pass')
})

t.test('a provider token assigned to a secret-like name is named by its provider', async (t) => {
  const cases: Array<[string, string]> = [
    ['GITHUB_TOKEN=ghp_dIjKt9WILleTLdtbIYgQMinTxqkNCktJnz1z', 'secret.github_token'],
    ['OPENROUTER_API_KEY=sk-or-v1-' + randomish(1, 64, '0123456789abcdef'), 'secret.ai_platform_key'],
    ['DOPPLER_TOKEN=dp.st.prd.' + randomish(2, 43), 'secret.secrets_manager_token'],
    ['password = pypi-AgEIcHlwaS5vcmc' + randomish(3, 150), 'secret.package_registry_token'],
    ['DD_API_KEY=' + randomish(4, 32, '0123456789abcdef'), 'secret.observability_key_in_context'],
    ['MAILCHIMP_API_KEY=' + randomish(5, 32, '0123456789abcdef') + '-us12', 'secret.email_key_in_context']
  ]
  for (const [text, id] of cases) t.same(secretFindings(text), [id], text)
})

t.test('long tokens are redacted whole, in any split', async (t) => {
  const slackConfig = 'xoxe.xoxp-1-' + randomish(6, 180)
  t.ok(slackConfig.length > 180)
  const opsToken = 'ops_eyJ' + randomish(7, 800, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')
  const pem = Buffer.from(`-----BEGIN RSA PRIVATE KEY-----\n${randomish(8, 64)}\n`.repeat(1) + `${randomish(9, 64)}\n`.repeat(30) + '-----END RSA PRIVATE KEY-----\n').toString('base64')
  t.ok(pem.length > 2000, 'a base64 key far longer than any bounded pattern')
  for (const [value, id] of [[slackConfig, 'secret.slack_token'], [opsToken, 'secret.onepassword'], [pem, 'secret.base64_private_key']] as const) {
    const text = `before ${value} after`
    const whole = scan(text)
    t.equal(whole.text, `before [SECRET:${id}] after`, `${id} whole`)
    for (const size of [1, 5, 64]) {
      const pieces: string[] = []
      for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size))
      const streamed = feedPieces(createScanner(ruleSet), pieces)
      t.equal(streamed.text, whole.text, `${id} in pieces of ${size}`)
    }
  }
})

t.test('tokens whose head is in the middle keep the part before it', async (t) => {
  const teleId = '7' + randomish(10, 9, '0123456789')
  const tele = `bot = telebot.TeleBot("${teleId}:AA${randomish(11, 33)}")`
  t.equal(scan(tele).text, `bot = telebot.TeleBot("${teleId}[SECRET:secret.telegram_bot_token]")`, 'the bot id stays')
  const azure = `Value: Ab38Q~${randomish(12, 34, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~.-')}`
  t.equal(scan(azure).text, 'Value: Ab38[SECRET:secret.azure_ad_client_secret]')
})
