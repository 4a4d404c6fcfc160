/**
 * @module test/rules/secret-checks
 * The placeholder and stock-value checks of the secret rules
 * (src/rules/secret-checks.ts), through the validator catalogue the rule
 * files name them by: secret_token, discord_bot_token, and what
 * refusesSecretValue adds to secret_value and url_password.
 */
import t from 'tap'
import type { Test } from 'tap'
import { hasAscendingRun, isPlaceholderToken, refusesSecretValue } from '../../src/rules/secret-checks.js'
import { validators } from '../../src/rules/validators.js'
import type { Validator } from '../../src/rules/types.js'

function v (name: string): Validator {
  const fn = validators[name]
  if (fn === undefined) throw new Error(`no validator ${name}`)
  return fn
}

function accepts (t: Test, name: string, values: readonly string[], lead?: string): void {
  for (const value of values) t.equal(v(name)(value, { before: ' ', lead }), true, `${name} accepts ${JSON.stringify(value)}`)
}

function rejects (t: Test, name: string, values: readonly string[], lead?: string): void {
  for (const value of values) t.equal(v(name)(value, { before: ' ', lead }), false, `${name} rejects ${JSON.stringify(value)}`)
}

t.test('the catalogue holds the secret-rule validators', async (t) => {
  t.type(validators.secret_token, 'function')
  t.type(validators.discord_bot_token, 'function')
})

t.test('hasAscendingRun counts up within one class of characters', async (t) => {
  t.ok(hasAscendingRun('x12345y', 5))
  t.ok(hasAscendingRun('keyABCDEF', 6))
  t.ok(hasAscendingRun('abcdef', 6))
  t.notOk(hasAscendingRun('89:;<', 5), 'digits do not run on into punctuation')
  t.notOk(hasAscendingRun('XYZ[\\]', 5), 'nor upper case into brackets')
  t.notOk(hasAscendingRun('ghp_dIjKt9WILleTLdtbIYgQMinTxqkNCktJnz1z', 4))
})

t.test('secret_token passes issued-looking tokens and refuses what documentation writes instead', async (t) => {
  accepts(t, 'secret_token', [
    'ghp_dIjKt9WILleTLdtbIYgQMinTxqkNCktJnz1z',
    'dop_v1_3c8e1f0a9b7d5c2e4f6a8b0c1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f2a4b6c8d0e',
    'sk_test_Mu6s6lk1LuSOzsIkeK4o8DS6',
    'access_token$production$3dtatj1yc3ld534i$5c72e00a0baa96bf12586459cc80de56',
    'dp.st.prd.Hn4kQ9vLz2Wm7Xr8Tp3cYd6Bf1Jg5Ns0Ke2Ua7Zw9Mq4Lx'
  ])
  rejects(t, 'secret_token', [
    'sk_live_1234567890abcdefghijklmn',
    'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
    'pplx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'AKIAXXXXXXXXXXXXXXXX',
    'lin_api_YOUR_LINEAR_API_KEY_GOES_HERE_000000',
    'sntrys_EXAMPLE_TOKEN_Q2mZ8vKx1Lw9',
    'gsk_000000aaaaaaQ2mZ8vKx1Lw9Rt7Yp4Nb6Hc3Jd5Fg8Ks',
    'tskey-auth-k*****CNTRL-*****',
    'dapi...',
    'npm_<token>'
  ])
})

t.test('isPlaceholderToken refuses names that merely start with a provider head', async (t) => {
  t.ok(isPlaceholderToken('fw_readFirmwareVersionBanks'), 'a camel-case identifier')
  t.ok(isPlaceholderToken('cioSettingsPanelController2'), 'digits only at the end')
  t.ok(isPlaceholderToken('pa-section-on-configuring-the-embedding-models'), 'a slug')
  t.notOk(isPlaceholderToken('fw_84jk7CqCWwqf73r7wPICX4Xc'), 'digits inside: random')
  t.notOk(isPlaceholderToken('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'), 'capitals in a row: random')
})

t.test('isPlaceholderToken reads words in any case but not inside random text', async (t) => {
  t.ok(isPlaceholderToken('re_Sample12_Q2mZ8vKx1Lw9Rt7Yp4Nb6Hc3J'))
  t.ok(isPlaceholderToken('figd_REDACTED'))
  t.notOk(isPlaceholderToken('figd_Qm7vT2kcWp9RzLx4HbNd3fYs8AeJu6Gq1NtVyKo0'))
})

t.test('discord_bot_token wants a snowflake before the first dot', async (t) => {
  const id = Buffer.from('1234987650912837465').toString('base64url')
  const rest = '.GhT4xQ.Zq8vK2mTx7LpW4rNc9HdYb3Fs6Jg1Vt5Ue0Ko8'
  accepts(t, 'discord_bot_token', [rest], `'${id}`)
  accepts(t, 'discord_bot_token', [rest], id)
  rejects(t, 'discord_bot_token', [rest], 'thisIsAnOrdinaryProperty')
  rejects(t, 'discord_bot_token', [rest], Buffer.from('not a number at all!!').toString('base64url'))
  rejects(t, 'discord_bot_token', ['.xxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'], id)
  rejects(t, 'discord_bot_token', [rest], '')
})

t.test('secret_value refuses stock example values that entropy lets through', async (t) => {
  rejects(t, 'secret_value', [
    'Password123!', 'fallback-password', 'authpassword', 't0k3nH34r', 'y0ur_s3cr3t', 'p4ssw0rd_here',
    'abcdef12345124', 'df123-4567', 'RANDOMSTRINGHERE',
    'https://oauth2.googleapis.com/token', '//localhost:8080/logs', '/home/deploy/app', '~/.ssh/id_rsa', 'uploads/2024/a.png',
    '/^Unexpected', '1.2.840.113549.1.9.4', '2024-05-17', 'this$1$1.getToken', 'self.options.secret',
    'cancellation_1.CancellationToken.is', '!Ze.isString', 'e=>!Ze.isString', 'urn:uuid:a515cfa4-5da4-22e1-f5b5-00a0451e6bf7',
    'pa\\uD7FFss', 'real-secret-6-levels'
  ])
  accepts(t, 'secret_value', ['Tr0ub4dor&3xyz', 'S3cr3t-Pa55', 'S3cr3tPassw0rd', 'hunter2Secret', 'Xk29fQ7mLp2z', '/9xK2mQ+Lp8vZ3wT', 'BM9+ysqmUdZqd6wcO/dkWehczMr8g6EKDbzLCN0Y', 'k8FjTDpA_1.MCIhbMODItJawB7MkNYuGW424gBE6', 'kdGJPMAUo.Szhtd4'])
})

t.test('secret_value reads the name before the keyword for lookup keys, cursors and badges', async (t) => {
  const value = 'Qm7vT2kcWp9RzLx4'
  for (const lead of ['sort', 'PUBLIC', 'my_partition', 'next', 'nextPage', 'cache-', 'Sec-WebSocket', 'csrf', 'X-XSRF-', 'codecov.io/gh/acme/x/graph/badge.svg?']) {
    t.equal(v('secret_value')(value, { before: '_', lead }), false, `refused after ${JSON.stringify(lead)}`)
  }
  for (const lead of ['', 'DB_', 'GH_', 'stripe', 'client', 'republic_']) {
    t.equal(v('secret_value')(value, { before: '_', lead }), true, `accepted after ${JSON.stringify(lead)}`)
  }
})

t.test('url_password refuses the credentials guides use', async (t) => {
  rejects(t, 'url_password', ['guest', 'bar', 'root', 'admin', 'authpassword', 'abcdef12345124', 'Password1'])
  accepts(t, 'url_password', ['hunter2', 'S3cr3t-Pa55', 'p@ss', 'x', 'Xk9vR2mQ7zLp4T'])
})

t.test('refusesSecretValue without a lead only judges the value', async (t) => {
  t.equal(refusesSecretValue('Qm7vT2kcWp9RzLx4'), false)
  t.equal(refusesSecretValue('Qm7vT2kcWp9RzLx4', ''), false)
  t.equal(refusesSecretValue('changeme123'), true)
})

t.test('isPlaceholderToken reads a short placeholder word only as a word of its own', async (t) => {
  t.notOk(isPlaceholderToken('AKIAAB4YWDT4H3JFAKET'), 'FAKE inside random capitals: a key')
  t.notOk(isPlaceholderToken('xoxb-1234-HEREsz9kQm2Lx7'), 'HERE run on into random letters')
  t.ok(isPlaceholderToken('sk_live_your_key_here'), 'between separators')
  t.ok(isPlaceholderToken('sk-proj-YourKeyGoesHere'), 'capitalised in camel case')
  t.ok(isPlaceholderToken('AKIA_FAKE_KEY_1234567'), 'upper case between separators')
})

t.test('isPlaceholderToken reads XXXX as a mask only as a run or a word of its own', async (t) => {
  t.notOk(isPlaceholderToken('AKIAJ7XXXXQ2M4ZB6HTR'), 'four X inside random capitals: a key')
  t.ok(isPlaceholderToken('AKIAXXXXXXXXXXXXXXXX'), 'a run of X')
  t.ok(isPlaceholderToken('ghp_XXXX_XXXX'), 'XXXX between separators')
})
