#ifndef CUTOVER_CMD_H
#define CUTOVER_CMD_H

/*
 * One function per subcommand, each in src/cmd/<name>.c. argv[0] is the
 * subcommand name. Each returns an exit status (see util/error.h).
 */
int cmd_init(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_releases(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_pin(int argc, char **argv);
int cmd_unpin(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_proxy(int argc, char **argv);
int cmd_agent(int argc, char **argv);

#endif
