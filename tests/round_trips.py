"""A TCP relay in front of PostgreSQL that counts round trips as they cross the wire.

A round trip is the client speaking after the server has spoken (or first): however libpq splits a
query into segments, and however many results the server answers with, one exchange counts once. No
driver hook is involved, so a BEGIN or COMMIT that psycopg2 sends by itself counts like any statement.
"""
import select
import socket
import threading


class RoundTripCounter:
    def __init__(self, host: str, port: int):
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._count = 0
        self._connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self._target)
            self._connections += [client, server]
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        client_spoke_last = False
        try:
            while True:
                readable, _, _ = select.select([client, server], [], [])
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is client and not client_spoke_last:
                        with self._lock:
                            self._count += 1
                    client_spoke_last = source is client
                    (server if source is client else client).sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def close(self) -> None:
        self._listener.close()
        for connection in self._connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
