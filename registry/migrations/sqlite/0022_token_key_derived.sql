-- The access-token key is derived from the secret key file now (HKDF) and never
-- stored; the one earlier versions kept here in the clear is removed with its table.
DROP TABLE IF EXISTS secrets;
