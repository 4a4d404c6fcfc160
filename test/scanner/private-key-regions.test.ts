/**
 * @module test/scanner/private-key-regions
 * A private key is a region, not a value: once its opening line is seen,
 * everything up to and including the matching closing line — or to the end
 * of the stream when there is none — is replaced by one marker as it
 * streams, whatever the key's size and layout, and nothing of its body is
 * ever released.
 *
 * Keys: real ones from node:crypto (RSA 1024/2048/4096 as PKCS#1, PKCS#8,
 * encrypted PKCS#8 and encrypted PKCS#1 with Proc-Type/DEK-Info; EC P-256
 * as SEC1, encrypted SEC1 and PKCS#8; Ed25519 as PKCS#8), and synthetic ones
 * with the real framing where generating them is slow or impossible here:
 * RSA 8192 (PKCS#1, random bytes of the DER length), OpenSSH, PGP (armor
 * headers, blank line, CRC line), PuTTY v2 and v3 (plain and encrypted with
 * the Argon2 key-derivation lines; the private part ends at `Private-MAC`).
 *
 * Layouts: as written (64 columns, OpenSSH 70), CRLF, re-wrapped at 32 and
 * 76 columns, all on one line, spaces for newlines, indented in a YAML
 * block, inside a JSON string (literal `\n` escapes), and truncated (the
 * stream ends mid-body).
 *
 * For every key and layout, scanned whole and streamed in random chunks of
 * 1-64 characters (seeded, so a failure replays):
 * (a) no 16-character run of the key body (whitespace and `\n` escapes
 *     removed on both sides) appears in the output;
 * (b) the text before the opening line comes out unchanged;
 * (c) the text after the closing line comes out unchanged (the line break
 *     right after the closing line may go with the region or stay: a line
 *     includes its end);
 * (d) the streamed output and findings equal the whole-text scan;
 * (e) the scanner holds little while inside the region (`kMaxHeld`),
 *     checked after every write: the prose around the block is shorter
 *     than the bound, so the whole stream must stay under it;
 * (f) one marker stands in the block's place (`kMaxMarkerChars`).
 *
 * Public keys and certificates are not secrets: they pass unchanged.
 */
import t from 'tap'
import { X509Certificate, generateKeyPairSync } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { rootCertificates } from 'node:tls'
import { defaultRulesDir, loadRuleSet } from '../../src/rules/load-rules.js'
import { createScanner } from '../../src/scanner/create-scanner.js'
import { scanText } from '../../src/scanner/scan-text.js'
import type { ScanResult } from '../../src/scanner/types.js'
import { createSeededRandom } from '../../src/json/seeded-random.js'
import { int } from './obfuscate.js'
import { comparable, feedPieces } from './scan-helpers.js'
import type { Rand } from './obfuscate.js'

const hmacKey = 'sluice-private-key-regions'
const ruleSet = await loadRuleSet(defaultRulesDir())

/**
 * Most a scanner may hold after a write while inside a region: the body is
 * swallowed as it arrives, and only what may still turn out to be the
 * closing line waits. The longest closing line is PuTTY v3's
 * `Private-MAC: ` + 64 hex digits (77 characters); add a 76-column body
 * line with its CRLF or `\n` escape and indentation, and 200 leaves room.
 */
const kMaxHeld = 200

/**
 * Most characters that may stand where the block was: one marker such as
 * `[SECRET:secret.private_key]`, perhaps with the indentation or line break
 * it replaced — not a line of the body, nor one marker per line.
 */
const kMaxMarkerChars = 80

/** Length of a run of the body that must not appear in the output: 16 base64 characters are 96 bits of key. */
const kWindow = 16

// Key models ---------------------------------------------------------------------

interface KeyBlock {
  name: string
  /** The width the tool that writes it uses. */
  width: number
  /** The block's lines, base64 bodies wrapped at `width` (line counts in headers follow). */
  lines: (width: number) => string[]
  /** Runs that must never be released: the base64 body, PuTTY's private lines and MAC. */
  secrets: string[]
}

function wrap (s: string, width: number): string[] {
  const out: string[] = []
  for (let i = 0; i < s.length; i += width) out.push(s.slice(i, i + width))
  return out
}

/** A PEM block as node:crypto writes it: opening, optional RFC 1421 header fields and a blank line, base64 body, closing. */
function pemBlock (name: string, pem: string): KeyBlock {
  const all = pem.trim().split('\n')
  const opening = all[0] as string
  const closing = all[all.length - 1] as string
  const inner = all.slice(1, -1)
  const blank = inner.indexOf('')
  const fields = blank >= 0 ? inner.slice(0, blank + 1) : []
  const body = inner.slice(blank + 1).join('')
  return { name, width: 64, secrets: [body], lines: (w) => [opening, ...fields, ...wrap(body, w), closing] }
}

function bytes (r: Rand, n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256)
  return b
}

function hex (r: Rand, n: number): string {
  return bytes(r, n).toString('hex')
}

/** Size of an RSA-8192 private key in PKCS#1 DER: n, e, d, p, q, dp, dq, qinv with their headers. */
const kRsa8192DerLength = 4652

function rsa8192 (r: Rand): KeyBlock {
  const der = Buffer.concat([Buffer.from([0x30, 0x82, (kRsa8192DerLength - 4) >> 8, (kRsa8192DerLength - 4) & 0xff, 0x02, 0x01, 0x00]), bytes(r, kRsa8192DerLength - 7)])
  const body = der.toString('base64')
  return {
    name: 'RSA 8192 PKCS#1 (synthetic body)',
    width: 64,
    secrets: [body],
    lines: (w) => ['-----BEGIN RSA PRIVATE KEY-----', ...wrap(body, w), '-----END RSA PRIVATE KEY-----']
  }
}

function openssh (r: Rand, name: string, size: number): KeyBlock {
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), bytes(r, size)]).toString('base64')
  return {
    name,
    width: 70,
    secrets: [body],
    lines: (w) => ['-----BEGIN OPENSSH PRIVATE KEY-----', ...wrap(body, w), '-----END OPENSSH PRIVATE KEY-----']
  }
}

function pgp (r: Rand): KeyBlock {
  // 0x95: an old-format secret-key packet with a two-byte length (RFC 4880 §4.2).
  const body = Buffer.concat([Buffer.from([0x95, 0x03, 0xc6]), bytes(r, 1500)]).toString('base64')
  const crc = '=' + bytes(r, 3).toString('base64')
  return {
    name: 'PGP private key block (synthetic)',
    width: 64,
    secrets: [body],
    lines: (w) => ['-----BEGIN PGP PRIVATE KEY BLOCK-----', 'Version: GnuPG v2', 'Comment: https://www.gnupg.org', '', ...wrap(body, w), crc, '-----END PGP PRIVATE KEY BLOCK-----']
  }
}

interface PuttySpec {
  name: string
  version: 2 | 3
  algorithm: 'ssh-rsa' | 'ssh-ed25519'
  encrypted: boolean
}

/** A PuTTY .ppk file: public and private blobs in base64 lines counted by a header, then the MAC. */
function putty (r: Rand, spec: PuttySpec): KeyBlock {
  const algo = Buffer.from(spec.algorithm)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(algo.length)
  const rsa = spec.algorithm === 'ssh-rsa'
  const pub = Buffer.concat([len, algo, bytes(r, rsa ? 268 : 36)]).toString('base64')
  const priv = bytes(r, rsa ? 656 : 48).toString('base64')
  const mac = hex(r, spec.version === 2 ? 20 : 32)
  const derivation = spec.version === 3 && spec.encrypted
    ? ['Key-Derivation: Argon2id', 'Argon2-Memory: 8192', 'Argon2-Passes: 21', 'Argon2-Parallelism: 1', `Argon2-Salt: ${hex(r, 16)}`]
    : []
  return {
    name: spec.name,
    width: 64,
    secrets: [priv, mac],
    lines: (w) => {
      const pubLines = wrap(pub, w)
      const privLines = wrap(priv, w)
      return [
        `PuTTY-User-Key-File-${spec.version}: ${spec.algorithm}`,
        `Encryption: ${spec.encrypted ? 'aes256-cbc' : 'none'}`,
        `Comment: ${rsa ? 'rsa' : 'ed25519'}-key-20240517`,
        `Public-Lines: ${pubLines.length}`, ...pubLines,
        ...derivation,
        `Private-Lines: ${privLines.length}`, ...privLines,
        `Private-MAC: ${mac}`
      ]
    }
  }
}

const passphrase = 'correct horse battery staple'

function exportPem (key: KeyObject, type: 'pkcs1' | 'pkcs8' | 'sec1', cipher?: string): string {
  const pem = cipher === undefined
    ? key.export({ type, format: 'pem' })
    : key.export({ type, format: 'pem', cipher, passphrase })
  return pem.toString()
}

function realKeys (): Array<{ block: KeyBlock, pem: string }> {
  const out: Array<{ block: KeyBlock, pem: string }> = []
  const add = (name: string, pem: string): void => { out.push({ block: pemBlock(name, pem), pem }) }
  // Generated once per file: RSA 4096 takes about a second.
  for (const bits of [1024, 2048, 4096]) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits })
    add(`RSA ${bits} PKCS#1`, exportPem(privateKey, 'pkcs1'))
    add(`RSA ${bits} PKCS#8`, exportPem(privateKey, 'pkcs8'))
    add(`RSA ${bits} encrypted PKCS#8`, exportPem(privateKey, 'pkcs8', 'aes-256-cbc'))
    if (bits === 2048) add('RSA 2048 encrypted PKCS#1 (Proc-Type, DEK-Info)', exportPem(privateKey, 'pkcs1', 'aes-128-cbc'))
  }
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  add('EC P-256 SEC1', exportPem(ec, 'sec1'))
  add('EC P-256 encrypted SEC1', exportPem(ec, 'sec1', 'aes-128-cbc'))
  add('EC P-256 PKCS#8', exportPem(ec, 'pkcs8'))
  add('Ed25519 PKCS#8', exportPem(generateKeyPairSync('ed25519').privateKey, 'pkcs8'))
  return out
}

const real = realKeys()
const synthetic = ((r: Rand): KeyBlock[] => [
  rsa8192(r),
  openssh(r, 'OpenSSH RSA-sized (synthetic)', 1800),
  openssh(r, 'OpenSSH Ed25519-sized (synthetic)', 384),
  pgp(r),
  putty(r, { name: 'PuTTY v2 ssh-rsa (synthetic)', version: 2, algorithm: 'ssh-rsa', encrypted: false }),
  putty(r, { name: 'PuTTY v3 ssh-ed25519 (synthetic)', version: 3, algorithm: 'ssh-ed25519', encrypted: false }),
  putty(r, { name: 'PuTTY v3 ssh-rsa, encrypted (synthetic)', version: 3, algorithm: 'ssh-rsa', encrypted: true })
])(createSeededRandom(0x5eed))
const keys: KeyBlock[] = [...real.map((k) => k.block), ...synthetic]

// Layouts ------------------------------------------------------------------------

interface Placed {
  /** Prose up to the block (its line break included). */
  before: string
  block: string
  /** Everything after the block; absent when the stream ends inside it. */
  after?: string
  /** The part of `after` that must come out unchanged. */
  keep?: string
}

interface Layout {
  name: string
  place: (key: KeyBlock) => Placed
}

const kBefore = 'Here is the key:\n'
const kAfter = '\nKeep it safe.'
const kKeep = 'Keep it safe.'

/** The LF block cut in the middle of its middle body line: the stream ends there. */
function truncated (key: KeyBlock): Placed {
  const lines = key.lines(key.width)
  const secret = key.secrets[0] ?? ''
  const bodyLines = lines.map((l, i) => [l, i] as const).filter(([l]) => l.length >= kWindow && secret.includes(l))
  const [line, index] = bodyLines[Math.floor(bodyLines.length / 2)] ?? [lines[0] ?? '', 0]
  const head = lines.slice(0, index).join('\n') + '\n'
  return { before: kBefore, block: head + line.slice(0, Math.ceil(line.length / 2)) }
}

const kLayouts: Layout[] = [
  { name: 'as written (LF)', place: (k) => ({ before: kBefore, block: k.lines(k.width).join('\n'), after: kAfter, keep: kKeep }) },
  { name: 'CRLF', place: (k) => ({ before: 'Here is the key:\r\n', block: k.lines(k.width).join('\r\n'), after: '\r\nKeep it safe.', keep: kKeep }) },
  { name: 'wrapped at 32', place: (k) => ({ before: kBefore, block: k.lines(32).join('\n'), after: kAfter, keep: kKeep }) },
  { name: 'wrapped at 76', place: (k) => ({ before: kBefore, block: k.lines(76).join('\n'), after: kAfter, keep: kKeep }) },
  { name: 'one line', place: (k) => ({ before: kBefore, block: k.lines(k.width).join(''), after: kAfter, keep: kKeep }) },
  { name: 'spaces for newlines', place: (k) => ({ before: kBefore, block: k.lines(k.width).join(' '), after: kAfter, keep: kKeep }) },
  {
    name: 'indented in a YAML block',
    place: (k) => ({ before: kBefore + 'tls:\n  key: |\n', block: k.lines(k.width).map((l) => l === '' ? '' : '    ' + l).join('\n'), after: kAfter, keep: kKeep })
  },
  {
    name: 'JSON string with \\n escapes',
    place: (k) => ({ before: kBefore + '{"key": "', block: k.lines(k.width).join('\\n'), after: '\\n"}' + kAfter, keep: '"}' + kAfter })
  },
  { name: 'truncated mid-body', place: truncated }
]

// Scanning -----------------------------------------------------------------------

function scan (text: string): ScanResult {
  return scanText(ruleSet, text, { hmacKey, sliceChars: Infinity })
}

interface Streamed extends ScanResult {
  maxHeld: number
  /** Input consumed when the most was held. */
  maxHeldAt: number
}

/** Feeds `text` in chunks of 1-64 characters drawn from `seed` (inside surrogate pairs too: there are none here). */
function streamed (text: string, seed: number): Streamed {
  const r = createSeededRandom(seed)
  const pieces: string[] = []
  for (let at = 0; at < text.length;) {
    const n = int(r, 1, 64)
    pieces.push(text.slice(at, at + n))
    at += n
  }
  let maxHeld = 0
  let maxHeldAt = 0
  let at = 0
  let k = 0
  const result = feedPieces(createScanner(ruleSet, { hmacKey }), pieces, (scanner) => {
    at += (pieces[k++] as string).length
    if (scanner.held > maxHeld) {
      maxHeld = scanner.held
      maxHeldAt = Math.min(at, text.length)
    }
  })
  return { ...result, maxHeld, maxHeldAt }
}

/** Whitespace and `\n` / `\r` escapes removed: a body re-flowed any way reads the same. */
function compact (s: string): string {
  return s.replace(/\\[nr]/g, '').replace(/\s+/g, '')
}

/** The first `kWindow`-character run of a secret that was in the input and is in the output, if any. */
function firstLeak (secrets: readonly string[], input: string, output: string): string | undefined {
  const inText = compact(input)
  const outText = compact(output)
  const seen = new Set<string>()
  for (let i = 0; i + kWindow <= outText.length; i++) seen.add(outText.slice(i, i + kWindow))
  for (const secret of secrets) {
    for (let i = 0; i + kWindow <= secret.length; i++) {
      const w = secret.slice(i, i + kWindow)
      if (seen.has(w) && inText.includes(w)) return w
    }
  }
  return undefined
}

/** A seed per key, layout and run, so a failure names what to replay. */
function seedOf (...parts: Array<string | number>): number {
  let h = 0x811c9dc5
  for (const ch of parts.join('|')) h = Math.imul(h ^ (ch.codePointAt(0) ?? 0), 0x01000193) >>> 0
  return h
}

function firstDifference (a: string, b: string): number {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i
}

// Tests --------------------------------------------------------------------------

t.test('the key models give back the PEM text node:crypto wrote', async (t) => {
  for (const { block, pem } of real) t.equal(block.lines(block.width).join('\n'), pem.trim(), block.name)
})

for (const key of keys) {
  t.test(`${key.name}: the whole block is redacted in every layout, whole and streamed`, async (t) => {
    for (const layout of kLayouts) {
      const p = layout.place(key)
      const input = p.before + p.block + (p.after ?? '')
      const label = `${layout.name} (${input.length} chars)`
      const whole = scan(input)
      const leak = firstLeak(key.secrets, input, whole.text)
      t.ok(leak === undefined, `${label}: no ${kWindow}-character run of the body is released${leak === undefined ? '' : ` (found ${leak})`}`)
      const keptBefore = whole.text.startsWith(p.before)
      t.ok(keptBefore, `${label}: the text before the opening line is released unchanged`)
      let keptAfter = true
      if (p.keep !== undefined) {
        keptAfter = whole.text.endsWith(p.keep)
        t.ok(keptAfter, `${label}: the text after the closing line is released unchanged`)
      }
      if (keptBefore && keptAfter) {
        const stand = whole.text.length - p.before.length - (p.keep?.length ?? 0)
        t.ok(stand <= kMaxMarkerChars, `${label}: one marker stands in the block's place (${stand} chars do)`)
      }
      t.ok(whole.findings.some((f) => f.action !== 'flag'), `${label}: the region is reported`)
      for (const run of [1, 2]) {
        const seed = seedOf(key.name, layout.name, run)
        const s = streamed(input, seed)
        const at = firstDifference(s.text, whole.text)
        t.ok(s.text === whole.text, `${label}, chunks seed ${seed}: streamed output equals the whole-text output${s.text === whole.text ? '' : ` (differs at ${at}: ${JSON.stringify(s.text.slice(at, at + 40))})`}`)
        t.same(comparable(s.findings), comparable(whole.findings), `${label}, chunks seed ${seed}: streamed findings equal the whole-text findings`)
        if (s.text !== whole.text) {
          const streamedLeak = firstLeak(key.secrets, input, s.text)
          t.ok(streamedLeak === undefined, `${label}, chunks seed ${seed}: no run of the body is released when streamed${streamedLeak === undefined ? '' : ` (found ${streamedLeak})`}`)
        }
        t.ok(s.maxHeld <= kMaxHeld, `${label}, chunks seed ${seed}: holds at most ${kMaxHeld} chars (held ${s.maxHeld} after ${s.maxHeldAt} chars in)`)
      }
    }
  })
}

// Not secrets ------------------------------------------------------------------------

/** Real certificates from Node's CA store, and their public keys (SPKI, and PKCS#1 for RSA): fixed text, so no flaky bodies. */
function publicBlocks (): KeyBlock[] {
  const certs = rootCertificates.map((pem) => ({ pem, x509: new X509Certificate(pem) }))
  const rsaCert = certs.find((c) => c.x509.publicKey.asymmetricKeyType === 'rsa')
  const ecCert = certs.find((c) => c.x509.publicKey.asymmetricKeyType === 'ec')
  const out: KeyBlock[] = []
  if (rsaCert !== undefined) {
    out.push(pemBlock('RSA CA certificate', rsaCert.pem))
    out.push(pemBlock('RSA public key (SPKI)', rsaCert.x509.publicKey.export({ type: 'spki', format: 'pem' }).toString()))
    out.push(pemBlock('RSA public key (PKCS#1)', rsaCert.x509.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString()))
  }
  if (ecCert !== undefined) {
    out.push(pemBlock('EC CA certificate', ecCert.pem))
    out.push(pemBlock('EC public key (SPKI)', ecCert.x509.publicKey.export({ type: 'spki', format: 'pem' }).toString()))
  }
  return out
}

t.test('public keys and certificates are not secrets: they pass unchanged in every layout', async (t) => {
  const blocks = publicBlocks()
  t.equal(blocks.length, 5, 'an RSA and an EC certificate in the CA store')
  for (const block of blocks) {
    for (const layout of kLayouts) {
      const p = layout.place(block)
      const input = p.before + p.block + (p.after ?? '')
      const whole = scan(input)
      t.ok(whole.text === input, `${block.name}, ${layout.name}: unchanged${whole.text === input ? '' : ` (differs at ${firstDifference(whole.text, input)})`}`)
      t.same(whole.findings.filter((f) => f.action !== 'flag').map((f) => f.ruleId), [], `${block.name}, ${layout.name}: no findings`)
      const s = streamed(input, seedOf(block.name, layout.name))
      t.ok(s.text === input, `${block.name}, ${layout.name}: unchanged when streamed`)
    }
  }
})
