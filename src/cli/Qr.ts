/**
 * A QR code of the device flow's `verification_uri_complete`, drawn with half blocks for a terminal, so
 * that a phone can open the approval page with the user code filled in.
 *
 * Uses `qrcode` (npm), dark modules on a light background with a quiet zone (its terminal renderer sets
 * the colours itself, so the code reads on dark and light terminals alike).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import QRCode from "qrcode"

/**
 * The QR code of `text` for a terminal, or `None` when it cannot be drawn (the text is too long for a
 * QR code, say): the verification URI and the code are shown anyway.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (text: string): Effect.Effect<Option.Option<string>> =>
  Effect.tryPromise(() => QRCode.toString(text, { type: "terminal", small: true, errorCorrectionLevel: "L" })).pipe(
    Effect.map((drawn) => Option.some(drawn.endsWith("\n") ? drawn : `${drawn}\n`)),
    Effect.orElseSucceed(() => Option.none<string>())
  )
