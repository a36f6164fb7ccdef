-- SQLite's 0022: the access-token key is derived from the secret key file (HKDF) and
-- never stored; the table that held it is removed.
DROP TABLE IF EXISTS secrets;
