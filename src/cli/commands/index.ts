import type { Command } from './command';
import { configCommands } from './configs';
import { dataCommands } from './data';
import { invalidateCommands } from './invalidate';
import { relayCommands } from './relays';
import { statusCommands } from './status';
import { userCommands } from './users';
import { verifyCommands } from './verify';

export type { Command, CommandContext } from './command';

export const commands: Record<string, Command> = {
  ...dataCommands,
  ...configCommands,
  ...invalidateCommands,
  ...verifyCommands,
  ...userCommands,
  ...relayCommands,
  ...statusCommands,
};
