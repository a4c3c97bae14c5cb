import { connectorContract } from './support/contract/connector-contract.ts';
import { googleContractCase } from './support/contract/google-source.ts';
import { graphContractCase } from './support/contract/graph-source.ts';
import { jumpCloudContractCase } from './support/contract/jumpcloud-source.ts';
import { oktaContractCase } from './support/contract/okta-source.ts';

/** Every pull connector passes the same contract against its emulator. */
for (const contract of [googleContractCase, graphContractCase, oktaContractCase, jumpCloudContractCase]) connectorContract(contract);
