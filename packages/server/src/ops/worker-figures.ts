/**
 * The figures of every worker of `herald serve --workers N`, for /api/status and /metrics on any
 * of them: this worker answers its siblings with its own, and asks them for theirs when a status
 * or a scrape comes in. A worker that died is not asked, so its figures are gone with it.
 */

import { AggregatorRegistry } from "prom-client";
import type { Hub } from "../hub/hub.js";
import type { HubStats } from "../hub/stats.js";
import type { Metrics } from "./metrics.js";
import { sumFigures, figuresAnswer, type FiguresAnswer, type GroupFigures } from "./node-figures.js";
import type { WorkerGroup } from "./worker-group.js";

export class WorkerFigures {
  constructor(
    private readonly group: WorkerGroup,
    hub: Hub,
    stats: HubStats,
    node: string,
    private readonly metrics: Metrics,
  ) {
    group.answer(async (request) => (request.kind === "figures" ? figuresAnswer(hub, stats, node) : await metrics.registry.getMetricsAsJSON()));
  }

  /** Undefined when the primary cannot be asked (it is gone, and this worker is draining). */
  async figures(): Promise<GroupFigures | undefined> {
    const survey = await this.group.survey({ kind: "figures" }).catch(() => undefined);
    return survey && sumFigures(survey.answers as FiguresAnswer[], survey.missing);
  }

  /**
   * Every worker's series in one Prometheus text, each labelled with its worker's `node`: a scrape
   * reaches one worker at random, and must still see them all. This worker's alone when the
   * primary cannot be asked.
   */
  async metricsText(): Promise<{ text: string; contentType: string }> {
    const survey = await this.group.survey({ kind: "metrics" }).catch(() => undefined);
    if (!survey) return { text: await this.metrics.text(), contentType: this.metrics.registry.contentType };
    const merged = AggregatorRegistry.aggregate(survey.answers as object[]);
    return { text: await merged.metrics(), contentType: merged.contentType };
  }
}
