/**
 * Test helpers for programs that use tokenlayer.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as TestGrant from "./TestGrant.js"

/**
 * @since 0.1.0
 */
export * as AuthServer from "./AuthServer.js"
