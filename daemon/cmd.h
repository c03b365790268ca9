/*
 * cmd.h - postern subcommands that live outside main.c.  Each takes
 * (argc, argv) with argv[0] = the subcommand name and returns the exit
 * status (0 ok, 1 error, 2 usage).
 */
#ifndef CMD_H
#define CMD_H

int	 cmd_deliver(int, char **);	/* postern deliver --to ADDR [--folder F] */
int	 cmd_reindex(int, char **);	/* postern reindex [-c FILE] [ADDRESS] */
int	 cmd_check(int, char **);	/* postern check [-c FILE] [ADDRESS] */
int	 cmd_queue(int, char **);	/* postern queue list|show|flush|delete|bounce */
int	 cmd_account(int, char **);	/* postern account add|passwd|del|list|show */
int	 cmd_dkim(int, char **);	/* postern dkim show [DOMAIN] */
int	 cmd_dns(int, char **);		/* postern dns [DOMAIN] */
int	 cmd_import(int, char **);	/* postern import ADDRESS MAILDIR|MBOX */
int	 cmd_backup(int, char **);	/* postern backup [-c FILE] [--with-mail] DEST */
int	 cmd_spam(int, char **);	/* postern spam learn-spam|learn-ham|stats|score */
#endif
