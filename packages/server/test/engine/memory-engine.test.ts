import { MemoryEngine } from "../../src/engine/memory.js";
import { runEngineSuite } from "./engine-suite.js";

runEngineSuite("memory", { create: () => new MemoryEngine(), shared: false });
