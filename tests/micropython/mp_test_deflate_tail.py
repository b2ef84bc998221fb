# deflate_compression.decompress: "The bytes of one zlib stream ... nothing after it" (CPython's zlib path
# raises "extra data after the stream"); so does MicroPython's DeflateIO path, which used to ignore what follows.
from mpcheck import done, raises

from litetel import deflate_compression
from litetel.errors import CodecError

# zlib.compress(b"litetel " * 200).hex(), made on CPython
STREAM = bytes.fromhex("789ccbc92c492d49cd51c819a547e9517a941ea54769126800e30566f7")
raises(CodecError, deflate_compression.decompress, STREAM + b"xyz", 5000)
done()
