/**
 * The version the command reports (`tokenlayer --version`): a module of its own, so that the
 * executable answers `--version` without loading anything else.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category constants
 */
export const version = "0.1.0"
