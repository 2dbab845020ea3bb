"""The network: embedding, a recurrent core (LSTM, GRU or SimpleRNN) and a linear head, with the
table of cell facts everything else reads.
"""
