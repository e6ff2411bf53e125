# man/: manual pages are added to dist_man_MANS by the fragment of what they document
