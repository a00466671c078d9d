/**
 * What the JWT tests (test/ClientAuthJwt.test.ts, test/JwtBearer.test.ts) share: their start time, a
 * recording `HttpClient` that can replay an old assertion, a clock that is wrong by a fixed offset, and a
 * call to the embedded `AuthServer`'s protected API.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Clock, Context, DateTime, Effect, Layer, Option, Ref } from "effect"
import { Token } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"

/** 2026-01-01T00:00:00Z: the tests' clocks start here, not at the epoch. */
export const START = DateTime.unsafeMake("2026-01-01T00:00:00Z").epochMillis
export const startSeconds = START / 1000

/** An HMAC key (HS256) from a client secret, as jose takes it. */
export const secretKey = (secret: string) => new TextEncoder().encode(secret)

/** The forms of the token requests an `HttpClient` sent, and an assertion to send instead of the next ones. */
export class Wire extends Context.Tag("test/support/jwt/Wire")<Wire, {
  readonly forms: Ref.Ref<ReadonlyArray<URLSearchParams>>
  readonly replay: Ref.Ref<Option.Option<string>>
}>() {}

const formOf = (request: HttpClientRequest.HttpClientRequest): URLSearchParams | undefined =>
  request.body._tag === "Uint8Array" ? new URLSearchParams(new TextDecoder().decode(request.body.body)) : undefined

/**
 * The platform's client, recording every token request's form and, when `replay` holds an assertion,
 * sending that one as the form's `assertionField` instead of the grant's own.
 */
export const wireClient = (assertionField: string): Layer.Layer<HttpClient.HttpClient | Wire> =>
  Layer.effectContext(
    Effect.gen(function*() {
      const forms = yield* Ref.make<ReadonlyArray<URLSearchParams>>([])
      const replay = yield* Ref.make<Option.Option<string>>(Option.none())
      const client = yield* HttpClient.HttpClient
      const wired = client.pipe(
        HttpClient.mapRequestEffect((request) =>
          Effect.gen(function*() {
            const form = formOf(request)
            if (form === undefined || !form.has("grant_type")) return request
            const replayed = yield* Ref.get(replay)
            if (Option.isSome(replayed)) form.set(assertionField, replayed.value)
            yield* Ref.update(forms, (all) => [...all, new URLSearchParams(form)])
            return HttpClientRequest.bodyText(request, form.toString(), "application/x-www-form-urlencoded")
          })
        )
      )
      return Context.make(HttpClient.HttpClient, wired).pipe(Context.add(Wire, { forms, replay }))
    })
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

/** The token request forms sent so far. */
export const sentForms = Effect.flatMap(Wire, (w) => Ref.get(w.forms))

/** The values of `field` in the token request forms sent so far ("" where a form has none). */
export const sentValues = (field: string) => Effect.map(sentForms, (forms) => forms.map((f) => f.get(field) ?? ""))

/** A clock `offsetMillis` away from `clock` (the client's watch is wrong). */
export const shifted = (clock: Clock.Clock, offsetMillis: number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis() + offsetMillis,
  unsafeCurrentTimeNanos: () => clock.unsafeCurrentTimeNanos() + BigInt(offsetMillis) * 1_000_000n,
  currentTimeMillis: Effect.sync(() => clock.unsafeCurrentTimeMillis() + offsetMillis),
  currentTimeNanos: Effect.sync(() => clock.unsafeCurrentTimeNanos() + BigInt(offsetMillis) * 1_000_000n),
  sleep: (duration) => clock.sleep(duration)
})

/** GET on the protected API of the server in context, at `apiPath`, with a token: its status and JSON body. */
export const callApiAt = (apiPath: string) => (token: Token.Token) =>
  Effect.gen(function*() {
    const server = yield* AuthServer.AuthServer
    const response = yield* HttpClient.get(server.apiUrl(apiPath), {
      headers: { authorization: Token.authorizationHeader(token) }
    })
    return { status: response.status, body: (yield* response.json) as Record<string, unknown> }
  }).pipe(Effect.scoped, Effect.orDie)
