/**
 * The ThingPark flow (../shared/seeds/001): client_credentials against a Keycloak token endpoint with
 * client_id and client_secret in the form body, renewed 10 seconds before expiry, every request carrying
 * the Bearer token. The seed's code is plain JavaScript with an axios interceptor, so this example is
 * too: it uses the Promise bridge, `TokenManager`, with no Effect code around it.
 *
 *   npm run example:thingpark   # against the embedded AuthServer on 127.0.0.1
 *   THINGPARK_HOSTNAME=... THINGPARK_CLIENT_ID=... THINGPARK_CLIENT_SECRET=... npm run example:thingpark
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Layer, ManagedRuntime, Redacted } from "effect"
import { ClientAuth, Grant, RefreshPolicy, RetryPolicy, TokenManager, TokenService, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"

const env = process.env
const real = env.THINGPARK_HOSTNAME !== undefined

// locally, an AuthServer whose client authenticates in the form body, as ThingPark's Keycloak expects
const local = real ? undefined : ManagedRuntime.make(
  AuthServer.layer({
    clients: [{ id: "thingpark-example", secret: "thingpark-secret", method: "client_secret_post" }]
  })
)
const server = local === undefined ? undefined : await local.runPromise(AuthServer.AuthServer)

const tokenUrl = server?.tokenUrl ?? `https://${env.THINGPARK_HOSTNAME}/users-auth/protocol/openid-connect/token`
const devicesUrl = server?.apiUrl("thingpark/wireless/rest/subscriptions/mine/devices") ??
  `https://${env.THINGPARK_HOSTNAME}/thingpark/wireless/rest/subscriptions/mine/devices`

const tokens = TokenManager.make(
  TokenService.layer().pipe(
    Layer.provide(Grant.clientCredentials({
      tokenUrl,
      clientId: env.THINGPARK_CLIENT_ID ?? "thingpark-example",
      clientAuth: ClientAuth.post(Redacted.make(env.THINGPARK_CLIENT_SECRET ?? "thingpark-secret"))
    })),
    Layer.provide([RefreshPolicy.fixed("10 seconds"), RetryPolicy.layerDefault, TokenStore.layerMemory]),
    Layer.provide(NodeHttpClient.layerUndici)
  )
)

// the seed's axios request interceptor, for code that keeps axios:
//   instance.interceptors.request.use(async (config) => {
//     config.headers.Authorization = await tokens.authorizationHeader()
//     return config
//   })
// with fetch, `tokens.fetch` does the same, and retries once with a new token after a 401:
try {
  console.log(real ? `ThingPark: ${devicesUrl}` : `local AuthServer: ${devicesUrl}`)
  const devices = await tokens.fetch(devicesUrl, { headers: { accept: "application/json" } })
  console.log(devices.status, await devices.json())
  // many requests at once share one token request
  const statuses = await Promise.all(Array.from({ length: 10 }, () => tokens.fetch(devicesUrl).then((r) => r.status)))
  console.log("10 concurrent requests:", statuses.join(" "))
  if (server !== undefined && local !== undefined) {
    const stats = await local.runPromise(server.stats)
    console.log(`token requests made: ${stats.tokenRequests}`)
  }
} finally {
  await tokens.dispose()
  await local?.dispose()
}
