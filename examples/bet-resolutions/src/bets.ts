/** The bets and users of the example: a small in-memory store standing in for the app's database. */

export type BetStatus = "open" | "settled" | "disputed";
export type BetResult = "win" | "loss" | "push" | "void";

export interface Bet {
  id: string;
  user_id: string;
  title: string;
  stake: number;
  odds: number;
  status: BetStatus;
  result: BetResult | null;
  resolution_notes: string | null;
  updated_at: string;
}

export interface User {
  id: string;
  name: string;
  email: string;
}

export const RESULTS: readonly BetResult[] = ["win", "loss", "push", "void"];

export class BetStore {
  readonly users = new Map<string, User>();
  readonly bets = new Map<string, Bet>();

  constructor() {
    const now = new Date().toISOString();
    for (const user of [
      { id: "user456", name: "Alex", email: "alex@bettor.test" },
      { id: "user789", name: "Sam", email: "sam@bettor.test" },
    ]) this.users.set(user.id, user);
    const seed: Array<Omit<Bet, "updated_at" | "result" | "resolution_notes"> & Partial<Bet>> = [
      { id: "123", user_id: "user456", title: "Lakers beat the Celtics", stake: 50, odds: 2.1, status: "open" },
      { id: "124", user_id: "user456", title: "Over 2.5 goals: Arsenal – Spurs", stake: 20, odds: 1.8, status: "open" },
      { id: "125", user_id: "user456", title: "Djokovic wins in straight sets", stake: 10, odds: 2.6, status: "settled", result: "loss", resolution_notes: "Went to four sets" },
      { id: "201", user_id: "user789", title: "Chiefs cover -3.5", stake: 30, odds: 1.9, status: "open" },
    ];
    for (const bet of seed) this.bets.set(bet.id, { result: null, resolution_notes: null, updated_at: now, ...bet });
  }

  forUser(userId: string | undefined): Bet[] {
    return [...this.bets.values()].filter((bet) => userId === undefined || bet.user_id === userId);
  }

  update(id: string, change: Partial<Pick<Bet, "status" | "result" | "resolution_notes">>): Bet | undefined {
    const bet = this.bets.get(id);
    if (!bet) return undefined;
    Object.assign(bet, change, { updated_at: new Date().toISOString() });
    return { ...bet };
  }
}
