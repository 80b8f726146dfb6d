/*  commands.h: the `surge` subcommands. Each lives in cli/cmd_<name>.c, parses its
    arguments and calls a library (coordinator/, worker/, simulator/); no logic hides
    here. Each returns a process exit code (common/exit_codes.h) and answers --help.

    The declarations are weak so that the table in main.c lists exactly the commands
    that are built in; a command whose file is absent simply does not appear. */
#ifndef SURGE_CLI_COMMANDS_H
#define SURGE_CLI_COMMANDS_H

#define SURGE_COMMAND(name) int cmd_##name(int argc, char **argv) __attribute__((weak))

SURGE_COMMAND(run);
SURGE_COMMAND(coordinator);
SURGE_COMMAND(worker);
SURGE_COMMAND(sim);
SURGE_COMMAND(ctl);
SURGE_COMMAND(validate);
SURGE_COMMAND(report);
SURGE_COMMAND(compare);
SURGE_COMMAND(keygen);

/* True when argv[1..] holds -h or --help (before any "--"). */
int cli_wants_help(int argc, char **argv);

#endif
