import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    // run the TypeScript sources, not the build (see package.json "exports")
    conditions: ["source"]
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
