import { TokenStore } from "tokenlayer"
import { storeSuite } from "./support/storeSuite.js"

storeSuite("TokenStore.layerMemory", TokenStore.layerMemory)
