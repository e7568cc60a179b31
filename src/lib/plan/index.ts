// The address planner's public surface: planNetwork for `plan` and the agent, pool naming and
// listing for the agent and the IPAM.
export { planNetwork, type PlanInput, type PlanResult, type PlanWarning, type PlanWarningCode, type UnplacedHost } from './planner.js';
export { ippoolName, listPools, parseExcludeText, type PlannedPool } from './pools.js';
export { parsePreviousCidrs } from './previous.js';
