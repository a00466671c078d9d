/**
 * The HTTP pieces every endpoint of the embedded `AuthServer` shares: JSON and error answers, reading
 * and checking a form body, the socket under a request.
 *
 * @internal
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as crypto from "node:crypto"
import type * as net from "node:net"
import type * as tls from "node:tls"
import { invalidRequest, OAuthError } from "./oauthBase.js"
import type { EndpointRequest } from "./oauthServer.js"

/** @internal */
export const jsonHeaders = { "cache-control": "no-store", pragma: "no-cache" } as const

/** @internal */
export const json = (
  body: unknown,
  status = 200,
  headers: Readonly<Record<string, string>> = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(JSON.stringify(body), {
    status,
    contentType: "application/json",
    headers: { ...jsonHeaders, ...headers }
  })

/** @internal */
export const errorResponse = (error: OAuthError): HttpServerResponse.HttpServerResponse =>
  json({ error: error.error, error_description: error.description }, error.status, error.headers ?? {})

/** `application/x-www-form-urlencoded`, whatever its parameters (`; charset=UTF-8`). */
const isForm = (contentType: string | undefined): boolean =>
  (contentType ?? "").split(";")[0]!.trim().toLowerCase() === "application/x-www-form-urlencoded"

/**
 * The socket under a Node request, when the `HttpServer` is Node's.
 *
 * @internal
 */
export const socketOf = (request: HttpServerRequest.HttpServerRequest): net.Socket | undefined => {
  const incoming: unknown = NodeHttpServerRequest.toIncomingMessage(request)
  if (typeof incoming !== "object" || incoming === null || !("socket" in incoming)) return undefined
  const socket = (incoming as { readonly socket: unknown }).socket
  return typeof socket === "object" && socket !== null && "destroy" in socket ? socket as net.Socket : undefined
}

/**
 * The client certificate of a request over the mTLS listener, when the client presented one, and
 * whether it chains to the listener's CA (`authorizationError`: Node's code, `CERT_HAS_EXPIRED`, when not).
 *
 * @internal
 */
export interface PeerCertificate {
  readonly certificate: crypto.X509Certificate
  readonly authorizationError?: string | undefined
}

/** @internal */
export const peerCertificateOf = (request: HttpServerRequest.HttpServerRequest): PeerCertificate | undefined => {
  const socket = socketOf(request) as Partial<tls.TLSSocket> | undefined
  if (socket?.getPeerX509Certificate === undefined) return undefined
  const certificate = socket.getPeerX509Certificate()
  if (certificate === undefined) return undefined
  const error = socket.authorized === true ? undefined : socket.authorizationError
  return { certificate, ...(error === undefined ? {} : { authorizationError: String(error) }) }
}

/**
 * The headers and the form body of a request (an empty form when the body is not one).
 *
 * @internal
 */
export const readForm = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<EndpointRequest> =>
  Effect.map(
    Effect.orElseSucceed(request.text, () => ""),
    (text): EndpointRequest => {
      const peer = peerCertificateOf(request)
      return {
        headers: request.headers,
        form: new URLSearchParams(isForm(request.headers["content-type"]) ? text : ""),
        ...(peer === undefined ? {} : { peer })
      }
    }
  )

/**
 * Method and content type, checked before anything else.
 *
 * @internal
 */
export const checkForm = (request: HttpServerRequest.HttpServerRequest): OAuthError | undefined =>
  request.method !== "POST"
    ? new OAuthError({
      status: 405,
      error: "invalid_request",
      description: "use POST",
      headers: { allow: "POST" }
    })
    : !isForm(request.headers["content-type"])
    ? invalidRequest("the body must be application/x-www-form-urlencoded")
    : undefined

/**
 * A form endpoint: the form read, the method and content type checked, then `handle`'s answer as JSON,
 * or its error as an RFC 6749 §5.2 answer.
 *
 * @internal
 */
export const formEndpoint = <A>(
  request: HttpServerRequest.HttpServerRequest,
  handle: (request: EndpointRequest) => Effect.Effect<A, OAuthError>,
  answer: (value: A) => HttpServerResponse.HttpServerResponse
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.flatMap(readForm(request), (endpointRequest) => {
    const invalid = checkForm(request)
    return (invalid === undefined ? handle(endpointRequest) : Effect.fail(invalid)).pipe(
      Effect.match({ onFailure: errorResponse, onSuccess: answer })
    )
  })
