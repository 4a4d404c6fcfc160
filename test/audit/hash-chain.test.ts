import t from 'tap'
import fc from 'fast-check'
import { createHash, createHmac } from 'node:crypto'
import {
  GENESIS,
  canonicalJson,
  checkRecordLine,
  createChainHasher,
  createChainVerifier,
  sealRecord
} from '../../src/audit/hash-chain.js'

t.test('canonicalJson sorts keys at every depth and drops whitespace', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}')
})

t.test('canonicalJson follows JSON.stringify for values JSON cannot hold', async (t) => {
  t.equal(canonicalJson({ a: undefined, b: () => 1, c: [undefined, NaN, Infinity] }), '{"c":[null,null,null]}')
  t.equal(canonicalJson({ at: new Date(0) }), '{"at":"1970-01-01T00:00:00.000Z"}')
  t.equal(canonicalJson({ big: 12345678901234567890n }), '{"big":"12345678901234567890"}')
  t.equal(canonicalJson(undefined), 'null')
})

t.test('canonicalJson throws on circular data', async (t) => {
  const a: Record<string, unknown> = {}
  a.self = a
  t.throws(() => canonicalJson(a), TypeError)
})

t.test('canonicalJson allows the same object twice when it is not circular', async (t) => {
  const shared = { x: 1 }
  t.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}')
})

t.test('canonicalJson of a parsed canonical string gives the same string back', async (t) => {
  t.doesNotThrow(() => fc.assert(fc.property(fc.jsonValue(), (value) => {
    const c = canonicalJson(value)
    return canonicalJson(JSON.parse(c)) === c
  }), { numRuns: 500 }))
})

t.test('canonicalJson does not depend on key insertion order', async (t) => {
  t.doesNotThrow(() => fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (dict) => {
    const reversed = Object.fromEntries(Object.entries(dict).reverse())
    return canonicalJson(dict) === canonicalJson(reversed)
  }), { numRuns: 300 }))
})

t.test('the unkeyed link is sha256 of prev followed by the body', async (t) => {
  const hasher = createChainHasher()
  t.equal(hasher(GENESIS, '{"a":1}'), createHash('sha256').update(GENESIS + '{"a":1}').digest('hex'))
})

t.test('the keyed link is HMAC-SHA256 and differs from the unkeyed one', async (t) => {
  const keyed = createChainHasher('k1')
  t.equal(keyed(GENESIS, '{}'), createHmac('sha256', 'k1').update(GENESIS + '{}').digest('hex'))
  t.not(keyed(GENESIS, '{}'), createChainHasher()(GENESIS, '{}'))
  t.not(keyed(GENESIS, '{}'), createChainHasher(Buffer.from('k2'))(GENESIS, '{}'))
})

t.test('a sealed record is one JSON line that carries prev and hash and checks out', async (t) => {
  const hasher = createChainHasher()
  const { line, hash } = sealRecord({ kind: 'event', event: 'x', data: {} }, GENESIS, hasher)
  t.ok(line.endsWith('}\n'))
  t.equal(line.indexOf('\n'), line.length - 1)
  const parsed = JSON.parse(line)
  t.equal(parsed.prev, GENESIS)
  t.equal(parsed.hash, hash)
  t.same(checkRecordLine(line.slice(0, -1), hasher), { ok: true, prev: GENESIS, hash, record: parsed })
})

t.test('a line whose key order was changed by a reader is rejected, though its content hashes the same', async (t) => {
  const hasher = createChainHasher()
  const { line } = sealRecord({ kind: 'event', event: 'x', data: { b: 1, a: 2 } }, GENESIS, hasher)
  const parsed = JSON.parse(line) as Record<string, unknown>
  const reordered = JSON.stringify(Object.fromEntries(Object.entries(parsed).reverse()), null, 1).replace(/\n/g, '')
  t.match(checkRecordLine(reordered, hasher), { ok: false, reason: /canonical form/ })
})

t.test('checkRecordLine rejects lines that are not records', async (t) => {
  const hasher = createChainHasher()
  t.match(checkRecordLine('', hasher), { ok: false, reason: /empty/ })
  t.match(checkRecordLine('{"a":', hasher), { ok: false, reason: /JSON/ })
  t.match(checkRecordLine('[1]', hasher), { ok: false, reason: /object/ })
  t.match(checkRecordLine('{"a":1}', hasher), { ok: false, reason: /not an audit record/ })
  t.match(checkRecordLine(`{"prev":"${GENESIS}","hash":"${'a'.repeat(64)}"}`, hasher), { ok: false, reason: /hash does not match/ })
})

t.test('the verifier accepts a chain and tracks its head', async (t) => {
  const hasher = createChainHasher()
  const first = sealRecord({ n: 1 }, GENESIS, hasher)
  const second = sealRecord({ n: 2 }, first.hash, hasher)
  const verifier = createChainVerifier()
  t.equal(verifier.head, GENESIS)
  t.same(verifier.push(first.line.trimEnd()), { ok: true })
  t.same(verifier.push(second.line.trimEnd()), { ok: true })
  t.equal(verifier.records, 2)
  t.equal(verifier.head, second.hash)
})

t.test('the verifier rejects a first record that does not start at genesis', async (t) => {
  const hasher = createChainHasher()
  const first = sealRecord({ n: 1 }, GENESIS, hasher)
  const second = sealRecord({ n: 2 }, first.hash, hasher)
  const verifier = createChainVerifier()
  t.match(verifier.push(second.line.trimEnd()), { ok: false, reason: /genesis/ })
  t.equal(verifier.records, 0)
})

t.test('the verifier rejects a record linked to something other than its predecessor', async (t) => {
  const hasher = createChainHasher()
  const first = sealRecord({ n: 1 }, GENESIS, hasher)
  const other = sealRecord({ n: 2 }, GENESIS, hasher)
  const verifier = createChainVerifier()
  verifier.push(first.line.trimEnd())
  t.match(verifier.push(other.line.trimEnd()), { ok: false, reason: /previous record/ })
  t.equal(verifier.head, first.hash)
})

t.test('a keyed chain does not verify without its key, and does with it', async (t) => {
  const sealed = sealRecord({ n: 1 }, GENESIS, createChainHasher('secret'))
  t.match(createChainVerifier().push(sealed.line.trimEnd()), { ok: false, reason: /chain key/ })
  t.same(createChainVerifier({ chainKey: 'secret' }).push(sealed.line.trimEnd()), { ok: true })
})

/** Index (1-based) of the first line the verifier rejects, or 0 if all pass. */
function firstBrokenLine (lines: string[]): number {
  const verifier = createChainVerifier()
  for (let i = 0; i < lines.length; i++) if (!verifier.push(lines[i]!).ok) return i + 1
  return 0
}

function chainOf (n: number): string[] {
  const hasher = createChainHasher()
  const lines: string[] = []
  let prev = GENESIS
  for (let i = 0; i < n; i++) {
    const sealed = sealRecord({ kind: 'event', event: 'e', data: { i } }, prev, hasher)
    lines.push(sealed.line.trimEnd())
    prev = sealed.hash
  }
  return lines
}

t.test('any single edit, deletion, insertion or swap is reported at the first line it touched', async (t) => {
  const tamper = fc.integer({ min: 2, max: 12 }).chain((n) => fc.record({
    n: fc.constant(n),
    op: fc.constantFrom('edit', 'delete', 'insert', 'swap'),
    i: fc.nat({ max: n - 2 }),
    j: fc.nat({ max: n - 1 })
  }))
  t.doesNotThrow(() => fc.assert(fc.property(tamper, ({ n, op, i, j }) => {
    const lines = chainOf(n)
    let expected: number
    switch (op) {
      case 'edit':
        lines[i] = lines[i]!.replace('"i":', '"i":1')
        expected = i + 1
        break
      case 'delete':
        lines.splice(i, 1)
        expected = i + 1
        break
      case 'insert':
        // A copy of line i put before itself is in its right place; the original after it is not.
        lines.splice(i, 0, lines[j]!)
        expected = j === i ? i + 2 : i + 1
        break
      default: {
        const k = Math.max(j, i + 1)
        const a = lines[i]!
        lines[i] = lines[k]!
        lines[k] = a
        expected = i + 1
      }
    }
    return firstBrokenLine(lines) === expected
  }), { numRuns: 400 }))
})

t.test('cutting records off the end leaves a valid chain, so only an anchored head detects it', async (t) => {
  const lines = chainOf(5)
  const verifier = createChainVerifier()
  for (const line of lines.slice(0, 3)) verifier.push(line)
  t.equal(verifier.records, 3)
  t.not(verifier.head, JSON.parse(lines[4]!).hash, 'the head differs from the one published before the cut')
})

// Canonical form ---------------------------------------------------------------

/** A record with something to re-format in every way: nested keys, escapes, non-ASCII, numbers of each shape. */
function sampleLine (): { line: string, hash: string } {
  const sealed = sealRecord({
    kind: 'event',
    event: 'sample',
    time: 1700000000000,
    data: { zeta: 1.5, alpha: 'é/"q"\t\u2028\u001f', list: [1, 100, -0.25, 1e21], none: null, yes: true }
  }, GENESIS, createChainHasher())
  return { line: sealed.line.slice(0, -1), hash: sealed.hash }
}

/** Lines that parse to the very same record as `line`, but are not the bytes that were written. */
function reformattings (line: string): Array<[string, string]> {
  const parsed = JSON.parse(line) as Record<string, unknown>
  const entries = Object.entries(parsed)
  const swapped = [entries[1]!, entries[0]!, ...entries.slice(2)]
  const withHashSorted = Object.fromEntries([...entries].sort(([a], [b]) => a < b ? -1 : 1))
  return [
    ['top-level keys re-ordered', JSON.stringify(Object.fromEntries(swapped))],
    ['nested keys re-ordered', JSON.stringify({ ...parsed, data: Object.fromEntries(Object.entries(parsed.data as object).reverse()) })],
    ['hash member in sorted position', JSON.stringify(withHashSorted)],
    ['pretty-printed', JSON.stringify(parsed, null, 2)],
    ['space after a colon', line.replace('"kind":', '"kind": ')],
    ['space after a comma', line.replace(',"kind"', ', "kind"')],
    ['leading space', ' ' + line],
    ['trailing space', line + ' '],
    ['trailing tab', line + '\t'],
    ['CRLF line ending', line + '\r'],
    ['BOM', '\uFEFF' + line],
    ['1.5 written 1.50', line.replace('"zeta":1.5', '"zeta":1.50')],
    ['100 written 1e2', line.replace(',100,', ',1e2,')],
    ['100 written 100.0', line.replace(',100,', ',100.0,')],
    ['-0.25 written -2.5e-1', line.replace('-0.25', '-2.5e-1')],
    ['1e+21 written 1E21', line.replace('1e+21', '1E21')],
    ['time in exponent form', line.replace('1700000000000', '1.7e12')],
    ['é escaped', line.replace('é', '\\u00e9')],
    ['/ escaped', line.replace('é/', 'é\\/')],
    ['quote escaped as \\u0022', line.replace('\\"q', '\\u0022q')],
    ['tab escaped as \\u0009', line.replace('\\t', '\\u0009')],
    ['U+2028 escaped', line.replace('\u2028', '\\u2028')],
    ['control character escaped in upper case', line.replace('\\u001f', '\\u001F')],
    ['a key escaped', line.replace('"kind"', '"\\u006bind"')],
    ['a duplicate key', line.replace('"kind":"event"', '"kind":"event","kind":"event"')]
  ]
}

t.test('the writer produces the one canonical line: parsing and serializing it again gives it back', async (t) => {
  const { line } = sampleLine()
  const { hash, ...rest } = JSON.parse(line) as Record<string, unknown>
  t.equal(line, `${canonicalJson(rest).slice(0, -1)},"hash":"${hash as string}"}`)
  t.equal(line.indexOf('\n'), -1)
  t.match(checkRecordLine(line, createChainHasher()), { ok: true })
})

t.test('every re-formatting of a valid line is rejected, though it parses to the same record and that record hashes the same', async (t) => {
  const hasher = createChainHasher()
  const { line, hash } = sampleLine()
  const original = JSON.parse(line) as Record<string, unknown>
  for (const [name, variant] of reformattings(line)) {
    t.not(variant, line, `${name}: the bytes differ`)
    // (A BOM is skipped by most readers, not by JSON.parse.)
    const parsed = JSON.parse(variant.replace(/^\uFEFF/, '')) as Record<string, unknown>
    t.same(parsed, original, `${name}: same content`)
    // A verifier that re-serialized the parsed record would accept it:
    const { hash: _hash, ...rest } = parsed
    t.equal(hasher(GENESIS, canonicalJson(rest)), hash, `${name}: the parsed content hashes the same`)
    t.match(checkRecordLine(variant, hasher), { ok: false, reason: /canonical form|JSON/ }, `${name}: rejected`)
  }
})

t.test('a line with bytes that are not UTF-8 is rejected', async (t) => {
  const { line } = sampleLine()
  const bytes = Buffer.from(line, 'utf8')
  const at = bytes.indexOf(Buffer.from('é'))
  // é as a lone Latin-1 byte, the rest unchanged.
  const latin1 = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xe9]), bytes.subarray(at + 2)])
  t.match(checkRecordLine(latin1, createChainHasher()), { ok: false, reason: /UTF-8/ })
})

t.test('an upper-case hash is not a record hash', async (t) => {
  const { line, hash } = sampleLine()
  t.match(checkRecordLine(line.replace(hash, hash.toUpperCase()), createChainHasher()), { ok: false, reason: /not an audit record/ })
})

t.test('the hash is SHA-256 of prev and the exact bytes of the line up to the hash member, closed with }', async (t) => {
  const { line, hash } = sampleLine()
  const bytes = Buffer.from(line, 'utf8')
  const cut = bytes.lastIndexOf(Buffer.from(',"hash":"'))
  const hashed = Buffer.concat([Buffer.from(GENESIS), bytes.subarray(0, cut), Buffer.from('}')])
  t.equal(createHash('sha256').update(hashed).digest('hex'), hash)
  t.ok(bytes.length > line.length, 'the line has multi-byte characters, hashed as UTF-8')
})

t.test('the checker hashes the bytes it is given', async (t) => {
  // Same record, other chain: a line whose hash was computed over other
  // bytes for the same content (here: escaped é) fails on its hash.
  const hasher = createChainHasher()
  const { line } = sampleLine()
  const { hash: _hash, prev, ...rest } = JSON.parse(line) as Record<string, unknown>
  const escapedBody = canonicalJson({ ...rest, prev }).replace('é', '\\u00e9')
  const forged = `${escapedBody.slice(0, -1)},"hash":"${hasher(GENESIS, escapedBody)}"}`
  t.match(checkRecordLine(forged, hasher), { ok: false, reason: /canonical form/ })
})

t.test('every record the writer seals checks out, whatever strings and numbers it holds', async (t) => {
  const hasher = createChainHasher()
  const data = fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ stringUnit: 'binary' }))
  t.doesNotThrow(() => fc.assert(fc.property(data, fc.double(), (d, x) => {
    const { line, hash } = sealRecord({ kind: 'event', event: 'e', data: d, x }, GENESIS, hasher)
    const check = checkRecordLine(Buffer.from(line.slice(0, -1), 'utf8'), hasher)
    return check.ok && check.hash === hash
  }), { numRuns: 300 }))
})
