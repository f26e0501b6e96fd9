// Peers, side by side in the same run (filled in below).
import type { DecodeBenchRow, SuiteHost, TrainBenchRow } from '../../src/engine/bench/suite.ts';
import type { Gpu } from '../../src/engine/gpu/gpu.ts';

export interface PeerResult {
  peer: string;
  config: string;
  ok: boolean;
  summary: string;
  ms?: number;
  ratio?: number;
}

export async function runTfjsPeer(_rows: readonly TrainBenchRow[], _gpu: Gpu): Promise<PeerResult[]> {
  return [];
}

export async function runLlamaCppPeer(_rows: readonly DecodeBenchRow[], _gpu: Gpu, _host: SuiteHost): Promise<PeerResult[]> {
  return [];
}
