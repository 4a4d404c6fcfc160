/**
 * @module pseudonym/restoring-scanner
 * A scanner whose released text is restored: the rules run first, on the
 * model's text with its placeholders, then placeholders become the user's
 * values. So a restored value is never redacted again (it is the user's own
 * data, going back to the user), while any other personal data the model
 * writes still is. Every codec builds its channels from a scanner factory,
 * so wrapping the factory covers every channel of every protocol, streamed
 * or whole.
 */
import type { ScanResult, Scanner } from '../scanner/types.js'
import type { Restorer } from './create-restorer.js'

/** Wraps `scanner` so that what it releases goes through `restorer`. */
export function createRestoringScanner (scanner: Scanner, restorer: Restorer): Scanner {
  let charsOut = 0
  function restored (result: ScanResult, last: boolean): ScanResult {
    // On a cut nothing follows: what the restorer holds is released now.
    let text = restorer.write(result.text)
    if (last || result.cut !== undefined) text += restorer.end()
    charsOut += text.length
    return text === result.text ? result : { ...result, text }
  }
  return {
    write: (text) => restored(scanner.write(text), false),
    end: (last) => restored(scanner.end(last), true),
    get held () { return scanner.held + restorer.held },
    get charsIn () { return scanner.charsIn },
    get charsOut () { return charsOut },
    get cut () { return scanner.cut }
  }
}
