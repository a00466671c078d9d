// The README's Redis store example (type-checked with the library).
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Redacted } from "effect"
import { Redis } from "ioredis"
import { Grant, TokenService } from "tokenlayer"
import * as RedisStore from "tokenlayer/TokenStore/Redis"

// Every process of the fleet runs this program. Configuration from the environment:
//   ICEYE_TOKEN_URL, ICEYE_CLIENT_ID, ICEYE_CLIENT_SECRET   the grant
//   TOKENLAYER_REDIS_URL=redis://:password@redis.internal:6379/0
//   TOKENLAYER_REDIS_PREFIX=iceye:   (optional; default tokenlayer:)
const TokenLive = TokenService.layer().pipe(
  Layer.provide(Grant.clientCredentialsConfig(Config.nested(Grant.clientCredentialsOptionsConfig, "ICEYE"))),
  Layer.provide(RedisStore.layerConfig()),
  Layer.provide(NodeHttpClient.layerUndici)
)

const program = Effect.gen(function*() {
  const tokens = yield* TokenService.TokenService
  for (let i = 0; i < 3; i++) {
    const token = yield* tokens.get // one token request per token lifetime, for the whole fleet
    yield* Effect.log(`token valid until ${token.expiresAt?.toJSON() ?? "unknown"}`)
    yield* Effect.sleep("1 minute")
  }
})

NodeRuntime.runMain(program.pipe(Effect.provide(TokenLive)))

// the same store with options in code
export const RedisLive = RedisStore.layer({
  url: Redacted.make("redis://:s3cret@redis.internal:6379/0"),
  prefix: "iceye:", // keys iceye:token:<grant key> and iceye:lock:<grant key>
  lease: "10 seconds", // how long a crashed holder can keep the others waiting
  commandTimeout: "2 seconds" // a slower Redis counts as down: services fetch on their own
})

// or over a client of your own (the store does not close it)
const client = new Redis("redis://redis.internal:6379", { enableOfflineQueue: false, commandTimeout: 2_000 })
export const RedisOwnClient = RedisStore.layer({ client, prefix: "iceye:" })
