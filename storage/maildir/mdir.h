/*
 * mdir.h - deliver into, and read from, one user's Maildir, in Dovecot's
 * on-disk format so a user migrates by copying the mail directory.
 * Owns the tmp/ -> new/ protocol and its fsync order, folder names on
 * disk (maildir++ and fs layouts), the file name format and the import
 * of Dovecot's side files.  [loop] calls never block; *_blocking calls
 * run only inside a work_ job; [any] calls are pure or nearly so.
 * Error strings (*error_r) are static or per-thread: valid until the next
 * mdir_ call on the same thread, so copy one before handing it across.
 */
#ifndef MDIR_H
#define MDIR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct mdir;			/* an open Maildir folder (opaque) */
struct mdir_dlv;		/* one delivery in progress (opaque) */

enum mdir_layout {
	MDIR_LAYOUT_MAILDIRPP = 0,	/* <root>/.a.b/ */
	MDIR_LAYOUT_FS			/* <root>/a/b/ */
};

#define MDIR_NAME_MAX		1024	/* IMAP folder name, UTF-8 bytes */
#define MDIR_FLAGS_MAX		96	/* sorted flag letters + NUL */
#define MDIR_TMP_STALE_SECS	(36 * 60 * 60)	/* Dovecot's tmp/ rule */

/* ---- paths and folder names (mdir_path.c) ---- */

/*
 * [any] <storage_path>/<domain>/<local>/mail for a lower-cased address.
 * Refuses anything that could leave storage_path or confuse a listing.
 */
int	 mdir_user_root(const char *storage_path, const char *address,
	    char **root_r, const char **error_r);
/*
 * [any] Directory of IMAP folder name (UTF-8, hierarchy separator sep)
 * under root.  "INBOX" (any case) is root itself.  utf8: on-disk names
 * stay UTF-8 instead of modified UTF-7.
 */
int	 mdir_folder_path(const char *root, enum mdir_layout, char sep,
	    bool utf8, const char *name, char **path_r, const char **error_r);
/*
 * [any] Reverse of mdir_folder_path for a listing: rel is the directory
 * relative to root (".a.b" for maildir++, "a/b" for fs).
 */
int	 mdir_folder_name(enum mdir_layout, char sep, bool utf8,
	    const char *rel, char **name_r, const char **error_r);

struct mdir_folder_info {
	char	*name;		/* UTF-8, separator sep; "INBOX" first */
	bool	 has_children;	/* \HasChildren, else \HasNoChildren */
	bool	 noselect;	/* a parent with no folder of its own */
};

/* [worker] All folders below root, sorted, INBOX first. */
int	 mdir_list_folders_blocking(const char *root, enum mdir_layout,
	    char sep, bool utf8, struct mdir_folder_info **list_r,
	    size_t *count_r, const char **error_r);
void	 mdir_folder_list_free(struct mdir_folder_info **list, size_t count);

/* ---- file names (mdir_name.c) ---- */

struct mdir_fname {
	size_t	 base_len;	/* bytes before ':' (dovecot-uidlist key) */
	bool	 has_size;	/* ,S=<size> was present */
	bool	 has_vsize;	/* ,W=<vsize> was present */
	bool	 has_info;	/* ":2," was present */
	uint64_t size;
	uint64_t vsize;
	char	 flags[MDIR_FLAGS_MAX];	/* sorted, unique */
};

/* [any] A new unique base "<sec>.M<usec>P<pid>Q<n>.<host>". */
char	*mdir_name_unique(void);
/* [any] Dovecot's escape of '/' and ':' in a host name ("\057", "\072"). */
char	*mdir_name_escape_host(const char *host);
/* [any] Split a Maildir file name; -1 on names we must not touch. */
int	 mdir_name_parse(const char *fname, struct mdir_fname *r,
	    const char **error_r);
/* [any] Sort and de-duplicate flag letters into out[MDIR_FLAGS_MAX]. */
int	 mdir_flags_normalize(const char *flags, char *out,
	    const char **error_r);
/* [any] "<base>:2,<sorted flags>" for a file in cur/. */
int	 mdir_name_with_flags(const char *base, size_t base_len,
	    const char *flags, char **fname_r, const char **error_r);

/* ---- deliveries (mdir_dlv.c) ---- */

/* [loop] Open the folder at path; create tmp/new/cur if create. */
int	 mdir_open(const char *path, bool create, struct mdir **mdir_r,
	    const char **error_r);
void	 mdir_close(struct mdir **mdir);		/* [loop] NULLs *mdir */
const char *mdir_path(const struct mdir *);		/* [any] */

/* [loop] Reserve a unique name, open tmp/<name> O_EXCL, mode 0600. */
int	 mdir_dlv_begin(struct mdir *, struct mdir_dlv **dlv_r,
	    const char **error_r);
/* [loop] Append body bytes (page cache only; durability at commit). */
int	 mdir_dlv_write(struct mdir_dlv *, const void *, size_t,
	    const char **error_r);
/* [loop] Where the commit puts it: new/, or cur/ with ":2,flags". */
int	 mdir_dlv_set_dest(struct mdir_dlv *, bool to_cur, const char *flags,
	    const char **error_r);
/*
 * [worker] fsync the file, rename tmp/ -> new/ (or cur/) under its final
 * name with ,S= and ,W=, then fsync the directory.  Only after this
 * returns 0 may the caller answer 250 or commit the index.
 */
int	 mdir_dlv_commit_blocking(struct mdir_dlv *, bool to_cur,
	    const char *flags, const char **error_r);
/*
 * [worker] Group commit: fsync each file, rename each, then fsync each
 * distinct target directory once.  Destinations come from
 * mdir_dlv_set_dest (default new/).  Returns -1 if any failed; see
 * mdir_dlv_committed per delivery (the others still committed).
 * Deliveries already committed are left alone.  If a directory fsync
 * fails its files stay in place (they may be durable) but count as
 * failed: a retried delivery is better than a lost one.
 * dir_fsyncs_r (may be NULL) gets the number of directory fsyncs.
 */
int	 mdir_commit_many_blocking(struct mdir_dlv *const *dlvs, size_t n,
	    size_t *dir_fsyncs_r, const char **error_r);
bool	 mdir_dlv_committed(const struct mdir_dlv *);	/* [any] */
/* [any] Final file name after commit, else the tmp/ name. */
const char *mdir_dlv_name(const struct mdir_dlv *);
uint64_t mdir_dlv_size(const struct mdir_dlv *);	/* [any] */
void	 mdir_dlv_free(struct mdir_dlv **dlv);	/* [loop] unlinks tmp/ */

/* ---- messages in a folder (mdir_msg.c) ---- */

struct mdir_entry {
	char	*fname;		/* as on disk, in new/ or cur/ */
	size_t	 base_len;	/* fname[0..base_len) is the base name */
	bool	 in_new;
	char	 flags[MDIR_FLAGS_MAX];
	uint64_t size;		/* S= if present, else st_size */
	uint64_t vsize;		/* W= if present, else 0 */
	bool	 has_vsize;
	time_t	 mtime;		/* Dovecot uses it as INTERNALDATE */
};

/*
 * [worker] Every message in new/ then cur/ (that order, so a concurrent
 * new/ -> cur/ move is never missed).  tmp/ is never looked at.
 */
int	 mdir_scan_blocking(const char *folder, struct mdir_entry **list_r,
	    size_t *count_r, const char **error_r);
void	 mdir_entries_free(struct mdir_entry **list, size_t count);
/* [any] mtimes of new/ and cur/, to notice outside changes cheaply. */
int	 mdir_dir_mtimes(const char *folder, struct timespec *new_r,
	    struct timespec *cur_r, const char **error_r);
/*
 * [worker] Rename the message whose base name matches fname (a full file
 * name or only its base) into cur/ with new flags; rescans new/ and cur/
 * if another program renamed it.  *fname_r gets the new name.
 */
int	 mdir_set_flags_blocking(const char *folder, const char *fname,
	    const char *flags, char **fname_r, const char **error_r);
/* [worker] new/ -> cur/ keeping the flags (":2," added). */
int	 mdir_move_to_cur_blocking(const char *folder, const char *fname,
	    char **fname_r, const char **error_r);
/* [worker] Unlink; a message already gone counts as expunged. */
int	 mdir_expunge_blocking(const char *folder, const char *fname,
	    const char **error_r);
/* [worker] Unlink tmp/ files untouched for 36 h before now. */
int	 mdir_tmp_cleanup_blocking(const char *folder, time_t now,
	    size_t *removed_r, const char **error_r);

/* ---- folders (mdir_folder.c) ---- */

/* [worker] mkdir with cur/new/tmp (+ maildirfolder for maildir++). */
int	 mdir_folder_create_blocking(const char *root, enum mdir_layout,
	    char sep, bool utf8, const char *name, const char **error_r);
/* [worker] Rename with all children; INBOX refused either side. */
int	 mdir_folder_rename_blocking(const char *root, enum mdir_layout,
	    char sep, bool utf8, const char *from, const char *to,
	    const char **error_r);
/*
 * [worker] Delete a folder and its messages.  A folder with children is
 * refused in both layouts (RFC 3501 6.3.4 lets a server refuse); INBOX
 * cannot be deleted.
 */
int	 mdir_folder_delete_blocking(const char *root, enum mdir_layout,
	    char sep, bool utf8, const char *name, const char **error_r);
/* [worker] RENAME INBOX (RFC 3501 6.3.5): move every message. */
int	 mdir_move_all_blocking(const char *from_folder, const char *to_folder,
	    size_t *moved_r, const char **error_r);

/* ---- Dovecot side files (mdir_dovecot.c) ---- */

struct mdir_uidlist_entry {
	uint32_t uid;
	char	*base;		/* file name up to ':' */
	uint64_t size;		/* S field, 0 if absent */
	uint64_t vsize;		/* W field, 0 if absent */
};

struct mdir_uidlist {
	unsigned int	 version;	/* 1 or 3 */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	char		 guid[33];	/* hex, "" if absent */
	struct mdir_uidlist_entry *entries;	/* ascending uid */
	size_t		 count;
};

/* [any] Parse dovecot-uidlist text (version 1 or 3). */
int	 mdir_uidlist_parse(const char *data, size_t len,
	    struct mdir_uidlist **list_r, const char **error_r);
int	 mdir_uidlist_read_blocking(const char *path,
	    struct mdir_uidlist **list_r, const char **error_r);
void	 mdir_uidlist_free(struct mdir_uidlist **list);

struct mdir_keywords {
	char	*names[26];	/* names['c' - 'a'] is keyword letter c */
};

/*
 * [any] Can name be recorded in dovecot-keywords (for a letter a-z) and
 * read back the same, by mdir_keywords_parse and by Dovecot, and go out
 * as an IMAP flag-keyword atom (RFC 9051 9)?  1 to MDIR_KEYWORD_MAX
 * bytes of 0x21-0x7e other than ( ) { % * " \ ].  A keyword that is not
 * ok lives in the index only.
 */
#define MDIR_KEYWORD_MAX	200	/* = STORE_KEYWORD_LEN_MAX */
bool	 mdir_keyword_ok(const char *name);
/*
 * [worker] fsync the folder directory itself, so that its side files
 * replaced by rename (dovecot-keywords) are durable before a message
 * file name that depends on them.
 */
int	 mdir_sidefiles_sync_blocking(const char *folder,
	    const char **error_r);
/* [any] Parse dovecot-keywords ("<index> <name>" lines). */
int	 mdir_keywords_parse(const char *data, size_t len,
	    struct mdir_keywords **kw_r, const char **error_r);
int	 mdir_keywords_read_blocking(const char *path,
	    struct mdir_keywords **kw_r, const char **error_r);
void	 mdir_keywords_free(struct mdir_keywords **kw);

/*
 * [any] Parse Dovecot's subscriptions file: "V\t2\n\n" then one name per
 * line, hierarchy levels separated by TAB and tab-escaped; without the
 * header, the old format of one name per line, taken as is.
 */
int	 mdir_subs_parse(const char *data, size_t len, char sep,
	    char ***names_r, size_t *count_r, const char **error_r);
int	 mdir_subs_read_blocking(const char *path, char sep,
	    char ***names_r, size_t *count_r, const char **error_r);
/* [worker] Write the version 2 format: tmp file, fsync, rename. */
int	 mdir_subs_write_blocking(const char *path, char sep,
	    const char *const *names, size_t count, const char **error_r);
void	 mdir_subs_free(char ***names, size_t count);
#endif
