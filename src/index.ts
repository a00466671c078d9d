/**
 * tokenlayer: OAuth 2.0 access tokens that stay valid, for long-running Effect programs.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as ClientAuth from "./ClientAuth.js"

/**
 * @since 0.1.0
 */
export * as DPoP from "./DPoP.js"
export * as MutualTls from "./MutualTls.js"

/**
 * @since 0.1.0
 */
export * as Discovery from "./Discovery.js"

/**
 * @since 0.1.0
 */
export * as Grant from "./Grant.js"

/**
 * @since 0.1.0
 */
export * as RefreshPolicy from "./RefreshPolicy.js"

/**
 * @since 0.1.0
 */
export * as RetryPolicy from "./RetryPolicy.js"

/**
 * @since 0.1.0
 */
export * as Revocation from "./Revocation.js"

/**
 * @since 0.1.0
 */
export * as Token from "./Token.js"

/**
 * @since 0.1.0
 */
export * as TokenError from "./TokenError.js"

/**
 * @since 0.2.0
 */
export * as TokenCache from "./TokenCache.js"

/**
 * @since 0.1.0
 */
export * as TokenService from "./TokenService.js"

/**
 * @since 0.1.0
 */
export * as TokenStore from "./TokenStore.js"

/**
 * @since 0.1.0
 */
export * as TokenHttpClient from "./TokenHttpClient.js"

/**
 * @since 0.1.0
 */
export * as TokenManager from "./TokenManager.js"

/**
 * @since 0.1.0
 */
export * as TokenSource from "./TokenSource.js"
