/**
 * @module bench/eval-sets/toxicity
 * Abuse phrases judged by outcome, as rules/toxicity.yaml states its tiers:
 * directed abuse and slurs are cut; bare profanity is flagged, never cut.
 * Literal senses of the same words (a breeder's term, firewood, ignition
 * timing, a licence's name) and idioms that only sound alike must not be
 * cut (a flag is what the file states for a bare profane word). Categories
 * follow the public attribute definitions of the Perspective API
 * (THREAT, INSULT, IDENTITY_ATTACK, PROFANITY). These strings exist to test
 * the rules; they are quoted, not meant.
 */
import { judged } from './types.js'
import type { EvalGroup } from './types.js'

const cut = ['cut'] as const
const flag = ['flag'] as const
const notCut = ['none', 'flag'] as const
const none = ['none'] as const

export const toxicityGroups: readonly EvalGroup[] = [
  {
    id: 'toxicity:directed-abuse',
    category: 'toxicity',
    summary: 'toxicity',
    mode: 'overlap',
    title: 'Directed abuse (cut)',
    source: 'Perspective API THREAT and INSULT definitions: a wish or intention of harm aimed at the reader, an insult with its target',
    positives: [
      judged('Do everyone a favour and go kill yourself.', 'go kill yourself', cut),
      judged('kys loser', 'kys loser', cut),
      judged('I hope you die in a fire.', 'I hope you die', cut),
      judged('Honestly, you are a worthless idiot.', 'you are a worthless idiot', cut),
      judged('nobody would miss you', 'nobody would miss you', cut),
      judged('go drink bleach', 'go drink bleach', cut),
      judged('you piece of shit', 'you piece of shit', cut),
      judged('you should just kill urself', 'kill urself', cut),
      judged('ur a moron', 'ur a moron', cut),
      judged('u r a moron', 'u r a moron', cut, 'spaced contraction'),
      judged('You are pathetic and everyone hates you.', 'everyone hates you', cut, 'no listed insult')
    ],
    negatives: [
      judged('This gives you enough rope to hang yourself.', undefined, none),
      judged("You'll shoot yourself in the foot with this API.", undefined, none),
      judged("Don't kill yourself over it, it's a draft.", undefined, none),
      judged('const kys = Object.keys(state)', undefined, none),
      judged('I hope you enjoy the release.', undefined, none),
      judged('You should update to the latest version.', undefined, none),
      judged('Kill the process yourself with kill -9.', undefined, none)
    ]
  },
  {
    id: 'toxicity:slur',
    category: 'toxicity',
    summary: 'toxicity',
    mode: 'overlap',
    title: 'Slurs, through obfuscation (cut)',
    source: 'Perspective API IDENTITY_ATTACK definition; obfuscations as catalogued by profanity filters (leetspeak, separators, look-alike letters)',
    positives: [
      judged('shut up, f4gg0t', 'f4gg0t', cut),
      judged('what a r3tard', 'r3tard', cut),
      judged('n.i.g.g.e.r', 'n.i.g.g.e.r', cut),
      judged('a bunch of tr4nnies', 'tr4nnies', cut),
      judged('you f a g g o t', 'f a g g o t', cut)
    ],
    negatives: [
      judged('He sniggered at the snigger.', undefined, none),
      judged('The Niger river flows through Nigeria.', undefined, none),
      judged('A flame retardant coating.', undefined, none),
      judged('Bundle the faggots of firewood before the frost.', 'faggots', notCut, 'literal sense (firewood)'),
      judged('Retard the ignition timing by two degrees.', 'Retard', notCut, 'literal sense (delay)'),
      judged('Retardation of the flow near the wall.', undefined, none)
    ]
  },
  {
    id: 'toxicity:profanity',
    category: 'toxicity',
    summary: 'toxicity',
    mode: 'overlap',
    title: 'Bare profanity (flagged, never cut)',
    source: 'Perspective API PROFANITY definition; rules/toxicity.yaml: bare profanity is flagged, not cut',
    positives: [
      judged('What a fucking mess.', 'fucking', flag),
      judged('This is bullshit.', 'bullshit', flag),
      judged('sh*t happens', 'sh*t', flag),
      judged('The build is fucked again.', 'fucked', flag),
      judged('f u c k this', 'f u c k', flag),
      judged('holy shit, it works', 'shit', flag),
      judged('what a shitshow', 'shitshow', flag, 'compound not listed')
    ],
    negatives: [
      judged('The female dog is called a bitch by breeders.', 'bitch', notCut, 'literal sense (breeding)'),
      judged('Licensed under the Do What The Fuck You Want To Public License (WTFPL).', 'Fuck', notCut, 'a licence name'),
      judged('A bastard sword has a longer grip.', 'bastard', notCut, 'literal sense (weapon)'),
      judged('Scunthorpe United won 2-1.', undefined, none),
      judged('The pilot returned to the cockpit.', undefined, none),
      judged('The assassin fled through Middlesex.', undefined, none),
      judged('A classic cocktail, a therapist, shiitake mushrooms.', undefined, none),
      judged('Dick Van Dyke and Penistone.', undefined, none)
    ]
  }
]
