/**
 * DPoP for `TokenManager.fetch`: a DPoP token goes as `Authorization: DPoP <token>` with a new proof
 * (with `ath`), and the request is sent once more after a 401 DPoP `use_dpop_nonce` challenge that
 * brought a new nonce; a second one rejects with an `HttpError` (the server loops).
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Token from "../Token.js"
import { HttpError } from "../TokenError.js"
import type { Service } from "./dpop.js"
import { challenge } from "./dpopHttp.js"
import { displayUrl } from "./urls.js"

const isNonceChallenge = (response: Response): boolean =>
  response.status === 401 &&
  challenge(response.headers.get("www-authenticate") ?? undefined, "DPoP")?.get("error") === "use_dpop_nonce"

/** @internal */
export const send = async (
  request: Request,
  token: Token.Token,
  dpop: Service | undefined,
  runSync: (effect: Effect.Effect<string>) => string,
  retryable: boolean
): Promise<Response> => {
  if (dpop === undefined) {
    throw new TypeError(
      "the token is a DPoP token (RFC 9449) and the manager's layer has no DPoP service: it is not sent without a proof"
    )
  }
  const once = async (outgoing: Request) => {
    const sent = dpop.nonce(outgoing.url)
    const proof = runSync(dpop.proof({ method: outgoing.method, url: outgoing.url, accessToken: token.accessToken }))
    const headers = new Headers(outgoing.headers)
    headers.set("authorization", `DPoP ${Redacted.value(token.accessToken)}`)
    headers.set("dpop", proof)
    const response = await globalThis.fetch(new Request(outgoing, { headers }))
    const fresh = dpop.updateNonce(outgoing.url, response.headers.get("dpop-nonce")) &&
      dpop.nonce(outgoing.url) !== sent
    return { response, fresh }
  }
  const first = await once(retryable ? request.clone() : request)
  if (!retryable || !first.fresh || !isNonceChallenge(first.response)) return first.response
  await first.response.body?.cancel().catch(() => undefined)
  const again = await once(request)
  if (!isNonceChallenge(again.response)) return again.response
  await again.response.body?.cancel().catch(() => undefined)
  throw new HttpError({
    reason: "Status",
    url: displayUrl(request.url),
    status: 401,
    error: "use_dpop_nonce",
    detail: "the API asked for a new DPoP nonce again after a retry with its nonce: not retried again"
  })
}
