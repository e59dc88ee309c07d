import java.io.IOException;
import java.io.PrintStream;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Everything the tracker and the users agree on: the datagram format, field checks, printing.
 *
 * Every datagram is one line of UTF-8 text, words separated by single spaces. Requests are
 * "op id args...", where id is a number unique per sender; every request is answered by
 * "ok id [fields...]", "fail id reason" or "busy id reason" (busy: a tweet is in progress, ask
 * again later). Free text (a tweet, a reason) is always the last field and may contain spaces.
 * A tweet going round a ring has no id and no answer: "pass @tweeter @from round text".
 * README.md (in this folder) lists every message.
 */
final class Wire {
    static final int MAX_TWEET = 140;        // characters, fixed by the assignment
    static final int MAX_DATAGRAM = 65507;   // largest UDP payload over IPv4
    static final int TRACE_CHARS = 200;      // a trace line shows at most this much of a datagram

    private static final Pattern HANDLE = Pattern.compile("@[A-Za-z]{1,15}");
    private static final Pattern NUMBER = Pattern.compile("[0-9]{1,18}");
    private static final Pattern IPV4 = Pattern.compile(
            "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}");

    /** UTF-8 standard output, flushed after every line (the grader reads us through a terminal). */
    static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), false,
            StandardCharsets.UTF_8);

    /** Where datagrams are received (each program receives in one thread only). */
    private static final ByteBuffer RECEIVE_BUFFER = ByteBuffer.allocate(MAX_DATAGRAM + 1);

    private Wire() {
    }

    static void say(String line) {
        OUT.println(line);
        OUT.flush();
    }

    static void trace(String text) {
        say("[trace] " + text);
    }

    // --- field checks ---------------------------------------------------------------------------

    /** A handle is @ followed by 1 to 15 letters. */
    static boolean isHandle(String s) {
        return s != null && HANDLE.matcher(s).matches();
    }

    /** Dotted-decimal IPv4 that others can send to (not 0.0.0.0, multicast or broadcast). */
    static boolean isIpv4(String s) {
        if (s == null || !IPV4.matcher(s).matches()) {
            return false;
        }
        int first = Integer.parseInt(s.substring(0, s.indexOf('.')));
        return !s.equals("0.0.0.0") && !s.equals("255.255.255.255") && (first < 224 || first > 239);
    }

    /** The port number in s (1-65535), or -1. */
    static int port(String s) {
        if (s == null || !s.matches("[0-9]{1,5}")) {
            return -1;
        }
        int port = Integer.parseInt(s);
        return port >= 1 && port <= 65535 ? port : -1;
    }

    /** The non-negative number in s, or -1. */
    static long number(String s) {
        return s != null && NUMBER.matcher(s).matches() ? Long.parseLong(s) : -1;
    }

    /** Length of a tweet in characters (code points, not UTF-16 units). */
    static int length(String text) {
        return text.codePointCount(0, text.length());
    }

    /** Why a tweet text cannot be sent, or null if it can. */
    static String textProblem(String text) {
        if (length(text) > MAX_TWEET) {
            return "tweet too long (" + length(text) + " > " + MAX_TWEET + " characters)";
        }
        if (text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0) {
            return "tweet text must be one line";
        }
        return null;
    }

    /** Split on single spaces into at most `limit` parts: the last part keeps its spaces. */
    static String[] split(String s, int limit) {
        return s.split(" ", limit);
    }

    // --- addresses and sockets ------------------------------------------------------------------

    /** ip (already checked to be dotted decimal: no name lookup happens) and port. */
    static InetSocketAddress address(String ip, int port) {
        try {
            return new InetSocketAddress(InetAddress.getByName(ip), port);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("invalid IPv4 address " + ip);
        }
    }

    static String show(InetSocketAddress address) {
        return address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    /** Send one datagram and trace it; a failed send is traced too (the sender's retries cover it). */
    static void send(DatagramChannel channel, String message, InetSocketAddress to) {
        try {
            channel.send(ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8)), to);
            trace("send " + show(to) + " " + clip(message));
        } catch (IOException e) {
            trace("send to " + show(to) + " failed: " + e.getMessage());
        }
    }

    /** One datagram received on a non-blocking channel, or null if none is waiting. */
    static Received receive(DatagramChannel channel) {
        ByteBuffer buffer = RECEIVE_BUFFER.clear();
        try {
            InetSocketAddress from = (InetSocketAddress) channel.receive(buffer);
            if (from == null) {
                return null;
            }
            buffer.flip();
            String text = StandardCharsets.UTF_8.decode(buffer).toString();
            trace("recv " + show(from) + " " + clip(text));
            return new Received(from, text);
        } catch (IOException e) { // e.g. a late ICMP error: nothing to read
            return null;
        }
    }

    record Received(InetSocketAddress from, String text) {
    }

    /** A received or typed string made safe to print on one line (control characters escaped),
     * and not too long. */
    static String clip(String message) {
        StringBuilder line = new StringBuilder();
        int i = 0;
        for (; i < message.length() && line.length() < TRACE_CHARS; i++) {
            char c = message.charAt(i);
            if (Character.isISOControl(c)) {
                line.append(String.format("\\x%02x", (int) c));
            } else {
                line.append(c);
            }
        }
        return i < message.length() ? line + "..." : line.toString();
    }

    /** A received request or reply: "op id rest". */
    static final class Message {
        final String op;
        final long id;
        final String rest; // everything after the id ("" if nothing)

        private Message(String op, long id, String rest) {
            this.op = op;
            this.id = id;
            this.rest = rest;
        }

        /** The message in text, or null if it is not of the form "op id ...". */
        static Message parse(String text) {
            String[] parts = split(text, 3);
            if (parts.length < 2 || number(parts[1]) < 0) {
                return null;
            }
            return new Message(parts[0], number(parts[1]), parts.length == 3 ? parts[2] : "");
        }

        boolean isReply() {
            return op.equals("ok") || op.equals("fail") || op.equals("busy");
        }

        /** The words after the id (none for an empty rest). */
        String[] words() {
            return rest.isEmpty() ? new String[0] : rest.split(" ");
        }
    }

    /** A map that forgets its oldest entries beyond `capacity` (the de-duplication memories). */
    static <K, V> Map<K, V> bounded(int capacity) {
        return new LinkedHashMap<K, V>() {
            @Override
            protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                return size() > capacity;
            }
        };
    }

    /** Ids and round numbers start at the clock in microseconds, so a restarted program never
     * reuses one (the receivers remember requests by sender address and id). */
    static long firstId() {
        return System.currentTimeMillis() * 1000;
    }
}
