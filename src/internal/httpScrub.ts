/**
 * What the authorized clients share: the token put in a request, a dropped response's body read in the
 * background, and the responses and errors scrubbed of the token (the platform's request shows its
 * headers in `inspect` and `JSON.stringify`).
 *
 * @internal
 */
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Stream from "effect/Stream"
import * as Token from "../Token.js"

/** @internal */
export const withToken = (request: HttpClientRequest.HttpClientRequest, token: Token.Token) =>
  HttpClientRequest.setHeader(request, "authorization", Token.authorizationHeader(token))

/**
 * Reads and drops the body of a response that will not be returned, in the background, so that its
 * connection goes back to the pool instead of waiting for the garbage collector. Bounded: a body that
 * does not arrive within 5 seconds is abandoned.
 */
/** @internal */
export const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.arrayBuffer.pipe(
    Effect.timeout("5 seconds"),
    Effect.ignore,
    Effect.forkDaemon,
    Effect.asVoid
  )

/**
 * The response as the caller sees it: its `request` is the caller's request, without the token. The
 * platform's `HttpClientRequest` shows its headers in `inspect` and `JSON.stringify` (and so in an
 * error's or a response's), and the token must not reach a log that way.
 */
/** @internal */
export const scrubResponse = (
  response: HttpClientResponse.HttpClientResponse,
  request: HttpClientRequest.HttpClientRequest
): HttpClientResponse.HttpClientResponse => new ScrubbedResponse(response, request)

class ScrubbedResponse implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  constructor(
    readonly original: HttpClientResponse.HttpClientResponse,
    readonly request: HttpClientRequest.HttpClientRequest
  ) {}
  get status() {
    return this.original.status
  }
  get headers() {
    return this.original.headers
  }
  get cookies() {
    return this.original.cookies
  }
  get remoteAddress() {
    return this.original.remoteAddress
  }
  // the body's errors (a body that is not JSON, a connection cut mid-body) are made by the original
  // response, with the request that carried the token: they are scrubbed too
  get formData() {
    return Effect.mapError(this.original.formData, (error) => scrubError(error, this.request))
  }
  get text() {
    return Effect.mapError(this.original.text, (error) => scrubError(error, this.request))
  }
  get json() {
    return Effect.mapError(this.original.json, (error) => scrubError(error, this.request))
  }
  get urlParamsBody() {
    return Effect.mapError(this.original.urlParamsBody, (error) => scrubError(error, this.request))
  }
  get arrayBuffer() {
    return Effect.mapError(this.original.arrayBuffer, (error) => scrubError(error, this.request))
  }
  get stream() {
    return Stream.mapError(this.original.stream, (error) => scrubError(error, this.request))
  }
  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
  toString(): string {
    return Inspectable.format(this.toJSON())
  }
  [Inspectable.NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
}

/** A client error as the caller sees it: about the caller's request, without the token. */
/** @internal */
export const scrubError = <E>(error: E, request: HttpClientRequest.HttpClientRequest): E => {
  if (!HttpClientError.isHttpClientError(error)) return error
  const fields = {
    request,
    ...(error.cause === undefined ? {} : { cause: error.cause }),
    ...(error.description === undefined ? {} : { description: error.description })
  }
  return (error._tag === "RequestError"
    ? new HttpClientError.RequestError({ ...fields, reason: error.reason })
    : new HttpClientError.ResponseError({
      ...fields,
      reason: error.reason,
      response: scrubResponse(error.response, request)
    })) as E
}
