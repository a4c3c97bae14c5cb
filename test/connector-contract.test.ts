import { connectorContract } from './support/contract/connector-contract.ts';
import { googleContractCase } from './support/contract/google-source.ts';

/** Every pull connector passes the same contract against its emulator. */
for (const contract of [googleContractCase]) connectorContract(contract);
