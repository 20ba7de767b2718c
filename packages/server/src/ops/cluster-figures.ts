/**
 * The figures of every node sharing a Redis engine, for /api/status on any of them: an engine
 * survey (engine contract point 7) asks each running node for its own figures, so a node that died
 * is not asked and its figures go with it; users and channels are counted once across nodes.
 */

import type { Engine } from "../engine/engine.js";
import type { Hub } from "../hub/hub.js";
import type { HubStats } from "../hub/stats.js";
import { figuresAnswer, sumFigures, type FiguresAnswer, type GroupFigures } from "./node-figures.js";

const FIGURES_OP = "figures";

/** Whether a control request asks for this node's figures (the rest go to the server API's actions). */
export function isFiguresRequest(request: unknown): boolean {
  return typeof request === "object" && request !== null && (request as { op?: unknown }).op === FIGURES_OP;
}

export class ClusterFigures {
  constructor(
    private readonly engine: Engine,
    private readonly hub: Hub,
    private readonly stats: HubStats,
    private readonly node: string,
  ) {}

  /** This node's answer to a figures survey. */
  answer(): FiguresAnswer {
    return figuresAnswer(this.hub, this.stats, this.node);
  }

  /** Undefined when the other nodes cannot be asked (the engine is unavailable): status still answers with this node's own. */
  async figures(): Promise<GroupFigures | undefined> {
    const survey = await this.engine.survey({ op: FIGURES_OP }).catch(() => undefined);
    return survey && sumFigures(survey.answers as FiguresAnswer[], survey.missing);
  }
}
